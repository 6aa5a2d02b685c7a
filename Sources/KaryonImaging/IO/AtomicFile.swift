#if canImport(Glibc)
import Glibc
#endif

/// Writes whole files so that a reader sees either the old file or the complete new one.
public enum AtomicFile {
    /// Writes `bytes` to a temporary file beside `path`, fsyncs it, and renames it over `path`.
    /// - Throws: ``ImageIOError/Code/writeFailed`` with the system's reason.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let base = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(dir.isEmpty ? "/" : dir)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw failure("create a temporary file in \(dir)", path) }
        let tmp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        var written = 0
        let total = bytes.count
        try bytes.withUnsafeBytes { raw in
            while written < total {
                let n = Glibc.write(fd, raw.baseAddress! + written, total - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    let err = failure("write", path)
                    Glibc.close(fd)
                    throw err
                }
                written += n
            }
        }
        fchmod(fd, mode)
        guard fsync(fd) == 0 else {
            let err = failure("fsync", path)
            Glibc.close(fd)
            throw err
        }
        Glibc.close(fd)
        guard rename(tmp, path) == 0 else { throw failure("rename the temporary file to", path) }
        ok = true
        let dfd = Glibc.open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 {
            fsync(dfd)
            Glibc.close(dfd)
        }
    }

    private static func failure(_ action: String, _ path: String) -> ImageIOError {
        ImageIOError(.writeFailed, "cannot \(action) \(path): \(String(cString: strerror(errno)))")
    }
}
