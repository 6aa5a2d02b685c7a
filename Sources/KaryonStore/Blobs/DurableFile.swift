import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe file primitives shared by the blob store and the key ring.
///
/// Every replacement follows the same protocol: write a temporary file in the destination's own
/// directory (so `rename(2)` stays on one file system and is atomic), `fsync(2)` it, rename it over
/// the destination, then `fsync(2)` the directory so the new directory entry survives a power cut.
/// A process killed at any point leaves either the old file or the new one, never a torn file; at
/// worst a hidden temporary (`.<name>.<random>.tmp`) is left behind, which readers ignore.
///
/// Paths and `errno` texts are the only things that ever go into an error: never file contents.
public enum DurableFile {
    /// Reads a whole file, or returns `nil` when it does not exist.
    public static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ioError("cannot open \(path)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ioError("cannot stat \(path)") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                Glibc_read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot read \(path)")
            }
            if n == 0 { break }  // the file shrank while we read it
            filled += n
        }
        if filled < bytes.count { bytes.removeSubrange(filled...) }
        return bytes
    }

    /// Atomically replaces (or creates) `path` with `bytes`: temp file, fsync, rename, fsync directory.
    ///
    /// - Parameters:
    ///   - mode: permission bits of the new file (set at creation, so the bytes are never readable
    ///     with wider permissions, whatever the umask).
    ///   - syncDirectory: pass `false` when the caller fsyncs the directory itself after a batch.
    public static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o600, syncDirectory: Bool = true) throws {
        let temp = try writeTemporary(beside: path, bytes: bytes, mode: mode)
        guard rename(temp, path) == 0 else {
            let error = ioError("cannot rename a temporary file over \(path)")
            unlink(temp)
            throw error
        }
        if syncDirectory { try syncParent(of: path) }
    }

    /// Creates `path` with `bytes` only if it does not exist yet (temp file, fsync, `link(2)`, which
    /// fails rather than overwrite). Returns `false` when another writer created it first.
    static func createExclusively(_ path: String, with bytes: [UInt8], mode: mode_t = 0o600) throws -> Bool {
        let temp = try writeTemporary(beside: path, bytes: bytes, mode: mode)
        defer { unlink(temp) }
        if link(temp, path) != 0 {
            if errno == EEXIST { return false }
            throw ioError("cannot create \(path)")
        }
        try syncParent(of: path)
        return true
    }

    /// Removes `path`; returns `false` when it was already gone. Does not fsync the directory.
    static func remove(_ path: String) throws -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw ioError("cannot remove \(path)")
    }

    /// Creates a directory (and missing parents) with `mode`, fsyncing each parent it adds an entry to.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw StoreError(.io, "\(path) exists and is not a directory; move it away or choose another path")
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectory(parent, mode: mode) }
        if mkdir(path, mode) != 0, errno != EEXIST { throw ioError("cannot create directory \(path)") }
        if !parent.isEmpty { try syncDirectory(parent) }
    }

    /// `fsync(2)` on the directory that holds `path`.
    static func syncParent(of path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        try syncDirectory(parent.isEmpty ? "." : parent)
    }

    /// `fsync(2)` on a directory, making renames and unlinks inside it durable.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open directory \(path)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError("cannot fsync directory \(path)") }
    }

    /// The permission bits of `path`, or `nil` when it does not exist.
    public static func mode(of path: String) throws -> mode_t? {
        var st = stat()
        if stat(path, &st) == 0 { return st.st_mode & 0o7777 }
        if errno == ENOENT { return nil }
        throw ioError("cannot stat \(path)")
    }

    /// Names in a directory, or `[]` when it does not exist. `.` and `..` are left out.
    static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw ioError("cannot list \(path)")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    // MARK: - Internals

    private static func writeTemporary(beside path: String, bytes: [UInt8], mode: mode_t) throws -> String {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let temp = (directory.isEmpty ? "" : directory + "/") + ".\(name).\(suffix).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ioError("cannot create a temporary file beside \(path)") }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temp) }
        }
        // The umask may have narrowed `mode`; never widened it. Make it exact.
        guard fchmod(fd, mode) == 0 else { throw ioError("cannot set the mode of \(temp)") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                Glibc_write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot write \(temp)")
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw ioError("cannot fsync \(temp)") }
        ok = true
        return temp
    }

    static func ioError(_ message: String) -> StoreError {
        let code = errno
        return StoreError(.io, message + ": " + String(cString: strerror(code)) + "; check the path, its permissions and free space",
                          underlying: "errno \(code)")
    }
}

// `read`/`write` are shadowed by methods in some contexts; name the C functions explicitly.
@inline(__always) private func Glibc_read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}

@inline(__always) private func Glibc_write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
