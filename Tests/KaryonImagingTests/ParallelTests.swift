import Foundation
@testable import KaryonImaging
import Testing

@Suite("Two steps of one image side by side")
struct ParallelTests {
    struct First: Error {}
    struct Second: Error {}

    /// Counts the second step's starts and ends.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var started = 0, finished = 0
        func start() { lock.withLock { started += 1 } }
        func finish() { lock.withLock { finished += 1 } }
        var balanced: Bool { lock.withLock { started == finished } }
        var starts: Int { lock.withLock { started } }
    }

    @Test("concurrently returns both values; the first step's error wins; it returns only once the second step has finished")
    func concurrentlyWaitsForBoth() throws {
        let (a, b) = try concurrently({ 6 * 7 }, { "side" })
        #expect(a == 42 && b == "side")
        let counter = Counter()
        for _ in 0..<20 {
            #expect(throws: First.self) {
                try concurrently({ () throws -> Int in throw First() }, { () -> Int in
                    counter.start()
                    Thread.sleep(forTimeInterval: 0.005)
                    counter.finish()
                    return 1
                })
            }
            // Side by side the second step ran and ended before the call returned; one after the
            // other it never started.
            #expect(counter.balanced)
        }
        #expect(throws: Second.self) { try concurrently({ 1 }, { () throws -> Int in throw Second() }) }
        #expect(throws: First.self) { try concurrently({ () throws -> Int in throw First() }, { () throws -> Int in throw Second() }) }
    }
}
