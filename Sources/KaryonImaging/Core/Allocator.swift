/// How processes that handle images (workers, the server) ask the C allocator for memory.
///
/// An extractor allocates image-sized arrays (a 512² float plane is 1 MiB) and frees them when
/// the job ends. glibc serves blocks above its mmap threshold with fresh `mmap`s and returns them
/// on free, so every job faults its working set in again, page by page (measured: 8% of a worker
/// machine's CPU in page faults). Raising the threshold to its maximum (32 MiB on 64-bit) and
/// keeping freed memory up to 256 MiB lets the next job reuse the same, already mapped pages.
/// The cost is that a worker keeps its peak working set resident.
public enum Allocator {
    /// Applies the settings above; call once at process start, before analysis runs.
    public static func keepImageBuffers() {
        #if os(Linux)
        _ = mallopt(mmapThreshold, 32 << 20)
        _ = mallopt(trimThreshold, 256 << 20)
        #endif
    }

    #if os(Linux)
    // <malloc.h> is not part of Swift's Glibc module; `int mallopt(int, int)` and its parameter
    // numbers (M_TRIM_THRESHOLD −1, M_MMAP_THRESHOLD −3) are glibc's stable ABI.
    private static let trimThreshold: Int32 = -1
    private static let mmapThreshold: Int32 = -3
    @_silgen_name("mallopt")
    private static func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
    #endif
}
