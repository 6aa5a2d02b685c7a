import Dispatch
import Foundation
import Synchronization

/// Runs `body` over `0..<count` split into contiguous chunks on all cores, for row loops of
/// pixel algorithms. Small inputs run inline. `body` must only write to disjoint parts of its output.
@inlinable
func parallelChunks(_ count: Int, minimumChunk: Int = 16, _ body: (Range<Int>) -> Void) {
    let cores = Parallelism.threadsPerImage
    guard count > minimumChunk, cores > 1 else {
        if count > 0 { body(0..<count) }
        return
    }
    let chunks = min(cores * 4, (count + minimumChunk - 1) / minimumChunk)
    let size = (count + chunks - 1) / chunks
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendable(escapable)
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            let start = i * size
            let end = min(count, start + size)
            if start < end { box.value(start..<end) }
        }
    }
}

/// Runs two independent steps of one image's analysis at the same time, `second` on a thread of
/// its own, when the image may use more than one core (``Parallelism``); otherwise `first`, then
/// `second`. A step that waits on a serial stretch of the other (a reconstruction's scans, a
/// table built row by row) then leaves the other core to it.
///
/// A thread of its own, not `concurrentPerform`: the steps' own pixel loops (``parallelChunks``)
/// keep all cores, where libdispatch gives a parallel loop nested in `concurrentPerform` one
/// thread on two cores.
/// - Throws: `first`'s error, else `second`'s. Side by side, the call returns only once both
///   steps have finished, whichever throws.
public func concurrently<A, B>(_ first: () throws -> A, _ second: () throws -> B) throws -> (A, B) {
    guard Parallelism.threadsPerImage > 1 else { return (try first(), try second()) }
    return try withoutActuallyEscaping(second) { second in
        let step = SecondStep(second)
        Thread.detachNewThread { step.run() }
        let a = Result { try first() }
        let b = step.wait()
        return (try a.get(), try b.get())
    }
}

/// ``concurrently(_:_:)``'s second step: run on another thread, which drops the closure before it
/// signals (the closure must not outlive the call), and waited for.
private final class SecondStep<B>: @unchecked Sendable {
    private var work: (() throws -> B)?
    private var outcome: Result<B, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping () throws -> B) { self.work = work }

    func run() {
        outcome = Result { try work!() }
        work = nil
        done.signal()
    }

    /// The step's outcome, once it has finished.
    func wait() -> Result<B, any Error> {
        done.wait()
        return outcome!
    }
}

/// How many cores the pixel loops of one image may use in this process.
///
/// By default all of them, which is what a single large image wants. A process that already runs
/// several images at once (a worker's job slots) sets 1: each job then runs on its own thread, and
/// the cores are shared between jobs instead of between the chunks of every job, without the
/// hand-offs and context switches of splitting each loop. Results are the same either way.
public enum Parallelism {
    private static let limit = Atomic<Int>(0)

    /// Caps the threads of one image's loops (0 or less: all cores).
    public static func setThreadsPerImage(_ threads: Int) {
        limit.store(threads, ordering: .relaxed)
    }

    /// The cores one image's loops use now.
    @usableFromInline static var threadsPerImage: Int {
        let cap = limit.load(ordering: .relaxed)
        return cap > 0 ? min(cap, ProcessInfoCores.count) : ProcessInfoCores.count
    }
}

@usableFromInline
enum ProcessInfoCores {
    @usableFromInline static let count: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 4
        #endif
    }()
}

#if canImport(Glibc)
import Glibc
#endif

/// A mutable buffer pointer that may be captured by concurrent chunks writing disjoint ranges.
@usableFromInline
struct SharedMutableBuffer<T>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<T>
    @usableFromInline init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    @inlinable subscript(i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
}

/// Wraps a value whose concurrent use the caller has made safe (disjoint writes).
@usableFromInline
struct UncheckedSendable<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}
