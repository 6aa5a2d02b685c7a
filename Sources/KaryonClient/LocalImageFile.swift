import Crypto
import Foundation
import KaryonImaging

/// A file on disk considered for upload: its format by magic bytes and its SHA-256, read in
/// chunks (never the whole file at once).
public struct LocalImageFile: Sendable, Equatable {
    /// Extensions taken as images even before their bytes are read (case-insensitive).
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "tif", "tiff"]

    public var path: String
    /// PNG, JPEG or TIFF by the first bytes; nil when the bytes are none of them.
    public var format: ImageFormat?
    public var size: Int64
    /// Lowercase hex; nil when ``format`` is nil (not hashed).
    public var sha256: String?

    static let chunkSize = 1 << 20

    /// Whether the file is a candidate for upload: an image extension, or image magic bytes
    /// under any other name. Hidden files (`.name`) never are.
    public static func isCandidate(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        guard !name.hasPrefix(".") else { return false }
        if imageExtensions.contains((name as NSString).pathExtension.lowercased()) { return true }
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 8)).flatMap { ImageFormat.sniff($0) } != nil
    }

    /// Reads the file once: the magic bytes, then (for an image) the digest of every byte.
    /// - Throws: ``ClientError/Code/io`` when it cannot be opened or read.
    public static func inspect(_ path: String) throws -> LocalImageFile {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ClientError(.io, "cannot open \(path)")
        }
        defer { try? handle.close() }
        do {
            var hasher = SHA256()
            var size: Int64 = 0
            var format: ImageFormat?
            while let chunk = try handle.read(upToCount: chunkSize), !chunk.isEmpty {
                if size == 0 {
                    format = ImageFormat.sniff(chunk)
                    guard format != nil else { return LocalImageFile(path: path, format: nil, size: Int64(clamping: try handle.seekToEnd()), sha256: nil) }
                }
                hasher.update(data: chunk)
                size += Int64(chunk.count)
            }
            let hex = hasher.finalize().map { String(format: "%02x", $0) }.joined()
            return LocalImageFile(path: path, format: format, size: size, sha256: size == 0 ? nil : hex)
        } catch {
            throw ClientError(.io, "cannot read \(path)", cause: "\(error)")
        }
    }
}
