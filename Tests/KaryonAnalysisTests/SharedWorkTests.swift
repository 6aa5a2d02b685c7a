import Foundation
import KaryonAnalysis
import Synchronization
import Testing

@Suite("Work shared by the extractors of one image")
struct SharedWorkTests {
    struct Failure: Error {}

    @Test("one key is computed once, however many ask at the same time")
    func computedOnce() throws {
        let shared = SharedWork()
        let computations = Atomic<Int>(0)
        let values = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let value = try? shared.value(for: "segmentation") { () -> Int in
                computations.add(1, ordering: .relaxed)
                Thread.sleep(forTimeInterval: 0.05)  // the others arrive while it runs
                return 42
            }
            values.withLock { $0.append(value ?? -1) }
        }
        #expect(computations.load(ordering: .relaxed) == 1)
        #expect(values.withLock { $0 } == [Int](repeating: 42, count: 8))
    }

    @Test("different keys, and equal keys of different types, are different work")
    func keysAreTyped() throws {
        let shared = SharedWork()
        #expect(try shared.value(for: "a") { 1 } == 1)
        #expect(try shared.value(for: "b") { 2 } == 2)
        #expect(try shared.value(for: 7) { "seven" } == "seven")
        #expect(try shared.value(for: "a") { 99 } == 1)
        // The same key asked for a value of another type is computed for that type.
        #expect(try shared.value(for: "a") { "text" } == "text")
    }

    @Test("a computation that throws is not kept: the next caller computes again")
    func failuresAreNotKept() throws {
        let shared = SharedWork()
        #expect(throws: Failure.self) { try shared.value(for: "k") { () -> Int in throw Failure() } }
        #expect(try shared.value(for: "k") { 5 } == 5)
        #expect(try shared.value(for: "k") { () -> Int in throw Failure() } == 5)
    }

    @Test("a caller waiting on a computation that fails computes it itself")
    func waiterComputesAfterFailure() throws {
        let shared = SharedWork()
        let started = DispatchSemaphore(value: 0)
        let first = Thread {
            _ = try? shared.value(for: "k") { () -> Int in
                started.signal()
                Thread.sleep(forTimeInterval: 0.05)
                throw Failure()
            }
        }
        first.start()
        started.wait()
        // Arrives while the first runs, waits for it, then finds nothing kept and computes.
        #expect(try shared.value(for: "k") { 8 } == 8)
    }
}
