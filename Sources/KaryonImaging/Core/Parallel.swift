import Dispatch

/// Runs `body` over `0..<count` split into contiguous chunks on all cores, for row loops of
/// pixel algorithms. Small inputs run inline. `body` must only write to disjoint parts of its output.
@inlinable
func parallelChunks(_ count: Int, minimumChunk: Int = 16, _ body: (Range<Int>) -> Void) {
    let cores = ProcessInfoCores.count
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
