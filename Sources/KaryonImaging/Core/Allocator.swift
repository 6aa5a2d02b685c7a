/// How processes that handle images (every `karyon` command: workers, the server, analyze) ask
/// the C allocator for memory.
///
/// An extractor allocates image-sized arrays (a 512² float plane is 1 MiB) and frees them when
/// the job ends. glibc serves blocks above its mmap threshold with fresh `mmap`s and returns them
/// on free, so every job faults its working set in again, page by page (measured: 8% of a worker
/// machine's CPU in page faults). Raising the threshold to its maximum (32 MiB on 64-bit) and
/// keeping freed memory up to 256 MiB lets the next job reuse the same, already mapped pages.
/// The cost is that a worker keeps its peak working set resident.
///
/// The trim threshold only governs the main arena. glibc gives other threads arenas of their own,
/// made of 64 MiB `mmap`ped heaps, and unmaps a heap as soon as it is wholly free, whatever the
/// threshold; a worker runs each job on a new thread, so its jobs kept faulting fresh heaps in.
/// So all threads share the main arena (`M_ARENA_MAX` = 1; small blocks still come from each
/// thread's own cache). Measured with `perf stat` on a `nuclei` worker during a 300-field load
/// test: 70,747 page faults in 8 s with an arena per thread, 6,420 and 5,702 with one (an
/// estimated 1 ms of CPU per job; the load test's throughput moved within its run-to-run noise).
/// Arenas are assigned when a thread first allocates, so this must run before any other thread
/// exists: `karyon` calls it first thing.
public enum Allocator {
    /// Applies the settings above; call once at process start, before other threads allocate.
    public static func keepImageBuffers() {
        #if os(Linux)
        _ = mallopt(mmapThreshold, 32 << 20)
        _ = mallopt(trimThreshold, 256 << 20)
        _ = mallopt(arenaMax, 1)
        #endif
    }

    #if os(Linux)
    // <malloc.h> is not part of Swift's Glibc module; `int mallopt(int, int)` and its parameter
    // numbers (M_TRIM_THRESHOLD −1, M_MMAP_THRESHOLD −3, M_ARENA_MAX −8) are glibc's stable ABI.
    private static let trimThreshold: Int32 = -1
    private static let mmapThreshold: Int32 = -3
    private static let arenaMax: Int32 = -8
    @_silgen_name("mallopt")
    private static func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
    #endif
}
