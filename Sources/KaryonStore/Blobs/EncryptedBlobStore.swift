import Crypto
import Foundation

/// The blob store for health data: every blob encrypted at rest with AES-256-GCM under its own data
/// key (envelope encryption), the data key wrapped by a key-encryption key from a ``KeyRing`` kept
/// outside the database.
///
/// **Layout.** Blob `id` (lowercase UUID) lives in `<directory>/<first 2 hex digits>/`:
/// - `<uuid>.blob`: the ciphertext, sealed in segments (format: `BlobFormat`, 1 MiB segments by
///   default; AAD binds the header, the blob id, the segment index and a final-segment flag);
/// - `<uuid>.key`: the 256-bit data key wrapped under a KEK with AAD = blob id and kid (format:
///   `WrappedKey`). Rotation rewrites only these small files.
///
/// Only metadata (UUIDs, kids, sizes) ever appears in file names and error messages; no plaintext
/// byte is ever written to disk, not even to a temporary file.
///
/// **Durability.** Each file is written to a hidden temporary beside it, fsynced, renamed into place,
/// and the directory fsynced (`DurableFile`). `put` writes the ciphertext first and the wrapped key
/// last, so the key file marks a complete blob: a crash in between leaves ciphertext that nothing can
/// decrypt, which ``allIDs()`` still lists for orphan collection.
///
/// **Reads** authenticate every segment before returning anything: a flipped byte, two blobs' files
/// swapped, a truncated file or a wrong KEK is `StoreError.integrity` (or `.keyUnavailable` when the
/// ring lacks the kid), never partial plaintext.
///
/// **Deletion** crypto-shreds: the wrapped key is unlinked (and the directory fsynced) before the
/// ciphertext and any temporary a killed write left for that id, so from that instant the blob is unreadable, even from a copy of the ciphertext. Copies
/// of the `.key` file in backups, together with the key file, can still decrypt: keep backups of the
/// two apart, or rotate the KEK to make old sidecar backups useless.
///
/// **Rotation**: ``rotateKeys(limit:)`` (in `EncryptedBlobStore+Rotation.swift`).
///
/// Thread-safe: operations on one blob exclude each other; different blobs proceed in parallel.
///
/// ## References
/// - NIST SP 800-38D, *Galois/Counter Mode (GCM) and GMAC* (2007), doi:10.6028/NIST.SP.800-38D.
/// - Envelope encryption: Google Cloud KMS, "Envelope encryption" (cloud.google.com/kms/docs/envelope-encryption);
///   AWS KMS, "Data keys and envelope encryption".
/// - Segmented AEAD with a final-segment flag: Hoang, Reyhanitabar, Rogaway & Vizár, "Online
///   Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015, doi:10.1007/978-3-662-47989-6_24.
public final class EncryptedBlobStore: BlobStore, @unchecked Sendable {
    /// The blob directory (`<data dir>/blobs` in the `karyon` program).
    public let directory: String
    /// The key-encryption keys.
    public let keyRing: KeyRing
    /// Plaintext bytes per sealed segment of new blobs (reads use the size in each file's header).
    public let segmentSize: Int

    let stripes = LockStripes()
    /// Shared while a data key is wrapped and its sidecar written; exclusive while a rotation switches
    /// the active KEK, so no new sidecar ends up under a KEK marked retiring.
    let wrapping = SharedExclusiveLock()

    /// A store in `directory` (created with mode 0700 if missing) using `keyRing`.
    /// - Parameter segmentSize: plaintext bytes per segment, 16 … 64 MiB (default 1 MiB).
    /// - Throws: `.invalidInput` for a segment size out of range; `.io` when the directory cannot be made.
    public init(directory: String, keyRing: KeyRing, segmentSize: Int = 1 << 20) throws {
        guard BlobFormat.segmentSizeRange.contains(segmentSize) else {
            throw StoreError(.invalidInput, "segment size \(segmentSize) is out of range: use 16 … \(64 << 20) bytes")
        }
        self.directory = directory
        self.keyRing = keyRing
        self.segmentSize = segmentSize
        try DurableFile.makeDirectory(directory, mode: 0o700)
    }

    /// Opens the store in `directory` with the key file at `keyFile`.
    ///
    /// The key file is created (fresh random KEK, mode 0600) only when the directory holds no blob;
    /// when blobs exist and the key file is missing this throws `StoreError.keyUnavailable` rather than
    /// silently starting a new key that could never decrypt them.
    public static func open(directory: String, keyFile: String, segmentSize: Int = 1 << 20) throws -> EncryptedBlobStore {
        let hasBlobs = try !listIDs(in: directory, limit: 1).isEmpty
        let ring = hasBlobs ? try KeyRing.load(from: keyFile) : try KeyRing.loadOrCreate(at: keyFile)
        return try EncryptedBlobStore(directory: directory, keyRing: ring, segmentSize: segmentSize)
    }

    // MARK: - BlobStore

    @discardableResult
    public func put(_ plaintext: Data, id: UUID) throws -> BlobInfo {
        let dataKey = SymmetricKey(size: .bits256)
        let sealed = try BlobFormat.seal(plaintext, id: id, dataKey: dataKey, segmentSize: segmentSize)
        let info = BlobInfo(id: id, size: plaintext.count)
        try stripes.withLock(id) {
            guard try DurableFile.mode(of: keyPath(id)) == nil else {
                throw StoreError(.conflict, "blob \(name(id)) already exists; blobs are immutable, use a new id")
            }
            try DurableFile.makeDirectory(shardPath(id), mode: 0o700)
            // The ciphertext is fsynced before its rename; the directory is fsynced once, after
            // the key's rename, and only then does `put` return. A crash before that leaves an
            // entry no row names (collected as an orphan), whichever of the two renames survived.
            try DurableFile.replace(blobPath(id), with: sealed, syncDirectory: false)
            do {
                try wrapping.shared {
                    let wrapped = try keyRing.wrap(dataKey, for: id)
                    try DurableFile.replace(keyPath(id), with: wrapped.bytes)
                }
            } catch {
                _ = try? DurableFile.remove(blobPath(id))
                throw error
            }
        }
        return info
    }

    public func get(_ id: UUID) throws -> Data {
        let (keyBytes, blobBytes) = try stripes.withLock(id) {
            (try DurableFile.read(keyPath(id)), try DurableFile.read(blobPath(id)))
        }
        guard let keyBytes else { throw StoreError(.notFound, "no blob \(name(id))") }
        guard let blobBytes else {
            throw StoreError(.integrity, "the ciphertext of blob \(name(id)) is missing (its .key file is there): "
                + "restore \(blobPath(id)) from backup")
        }
        let wrapped = try WrappedKey(parsing: keyBytes, id: id)
        let dataKey = try keyRing.unwrap(wrapped, for: id)
        return try BlobFormat.open(blobBytes, id: id, dataKey: dataKey)
    }

    @discardableResult
    public func delete(_ id: UUID) throws -> Bool {
        try stripes.withLock(id) {
            // The wrapped key goes first, durably: from then on the ciphertext is noise.
            let key = try DurableFile.remove(keyPath(id))
            if key { try DurableFile.syncDirectory(shardPath(id)) }
            let blob = try DurableFile.remove(blobPath(id))
            // Temporaries a killed put or rotation left behind may hold a copy of the wrapped key.
            var stray = false
            for file in try DurableFile.list(shardPath(id)) where file.hasPrefix("." + name(id) + ".") {
                stray = try DurableFile.remove(shardPath(id) + "/" + file) || stray
            }
            if blob || stray { try DurableFile.syncDirectory(shardPath(id)) }
            return key || blob
        }
    }

    public func contains(_ id: UUID) -> Bool {
        stripes.withLock(id) {
            (try? DurableFile.mode(of: keyPath(id))) != nil && (try? DurableFile.mode(of: blobPath(id))) != nil
        }
    }

    public func allIDs() throws -> [UUID] {
        try Self.listIDs(in: directory, limit: nil)
    }

    public func allIDs(writtenBefore cutoff: Date) throws -> [UUID] {
        try allIDs().filter { id in
            [blobPath(id), keyPath(id)].allSatisfy { path in
                var info = stat()
                guard stat(path, &info) == 0 else { return true }  // a missing half is not "recent"
                return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9 < cutoff.timeIntervalSince1970
            }
        }
    }

    // MARK: - Paths

    func name(_ id: UUID) -> String { id.uuidString.lowercased() }
    func shardPath(_ id: UUID) -> String { directory + "/" + String(name(id).prefix(2)) }
    func blobPath(_ id: UUID) -> String { shardPath(id) + "/" + name(id) + ".blob" }
    func keyPath(_ id: UUID) -> String { shardPath(id) + "/" + name(id) + ".key" }

    /// Ids with a `.blob` or a `.key` file in `directory`'s shards (temporaries and strays ignored).
    static func listIDs(in directory: String, limit: Int?) throws -> [UUID] {
        var ids = Set<UUID>()
        for shard in try DurableFile.list(directory).sorted() where shard.count == 2 && shard.allSatisfy(\.isHexDigit) {
            for file in try DurableFile.list(directory + "/" + shard) where !file.hasPrefix(".") {
                let stem: Substring
                if file.hasSuffix(".blob") { stem = file.dropLast(5) } else if file.hasSuffix(".key") { stem = file.dropLast(4) } else { continue }
                guard stem.hasPrefix(shard), let id = UUID(uuidString: String(stem)), id.uuidString.lowercased() == stem else { continue }
                ids.insert(id)
                if let limit, ids.count >= limit { return Array(ids) }
            }
        }
        return ids.sorted { $0.uuidString < $1.uuidString }
    }
}
