import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The key-encryption keys (KEKs) of an ``EncryptedBlobStore``, kept in a key file outside the
/// database: envelope encryption, where each blob's own data key is stored only wrapped by a KEK.
///
/// The key file (default `<data dir>/keys/kek.json`, anywhere else by configuration) is JSON:
/// ```json
/// { "format": "karyon-kek", "version": 1, "active": "kek-…", "retiring": [],
///   "keys": [ { "kid": "kek-…", "created": "2025-01-01T00:00:00Z", "key": "<base64, 32 bytes>" } ] }
/// ```
/// - `active` wraps every new data key; `retiring` lists KEKs that a rotation in progress is moving
///   blobs away from (non-empty = the rotation marker). Every kid named must be in `keys`.
/// - The file must have mode 0600 (no group or other bits); it is created with 0600 inside a
///   directory created with 0700, and always replaced atomically (temp file, fsync, rename, fsync).
/// - A file that is group/other-accessible, malformed, or names a kid it does not hold is refused
///   with `StoreError.keyUnavailable` and a message saying how to fix it: nothing is ever re-created
///   over it, and a missing file is only created when the caller says no blob exists yet.
///
/// Without this file a database dump plus the blob directory decrypts nothing: back it up apart from
/// them. Whoever holds it and the sidecars can decrypt every blob.
///
/// **Processes.** A ring loaded from a file holds a shared `flock(2)` on the key file's directory for
/// as long as it lives; a key rotation needs the lock exclusively, so it refuses to run (with
/// `StoreError.conflict`) while a server or worker has the same key file open, and those refuse to
/// open while a rotation runs. This keeps a stale process from wrapping new data keys under a KEK a
/// rotation is about to drop.
///
/// Thread-safe. The KEK bytes never leave this type.
///
/// ## References
/// - NIST SP 800-38D, *Recommendation for Block Cipher Modes of Operation: Galois/Counter Mode (GCM)
///   and GMAC* (2007), doi:10.6028/NIST.SP.800-38D.
/// - NIST SP 800-57 Part 1 Rev. 5, *Recommendation for Key Management* (2020), §5.3 (cryptoperiods,
///   key-wrapping keys), doi:10.6028/NIST.SP.800-57pt1r5.
public final class KeyRing: @unchecked Sendable {
    /// The key file, or `nil` for an ``ephemeral()`` ring.
    public let path: String?

    private let lock = NSLock()
    private var state: State
    private let directoryLock: Int32  // fd of the key file's directory holding the flock, or -1

    struct State {
        var active: String
        var retiring: [String]
        var keys: [String: SymmetricKey]
        var created: [String: String]
    }

    private init(path: String?, state: State, directoryLock: Int32) {
        self.path = path
        self.state = state
        self.directoryLock = directoryLock
    }

    deinit {
        if directoryLock >= 0 { close(directoryLock) }  // releases the flock
    }

    // MARK: - Opening

    /// Loads an existing key file; never creates one.
    /// - Throws: `StoreError.keyUnavailable` when the file is missing, group/other-accessible,
    ///   unreadable or malformed; `.conflict` while a key rotation holds it in another process.
    public static func load(from path: String) throws -> KeyRing {
        let lockFD = try lockDirectory(of: path)
        do {
            guard let mode = try DurableFile.mode(of: path) else {
                throw StoreError(.keyUnavailable, "no key file at \(path): restore it from backup, or point "
                    + "KARYON_KEY_FILE / --key-file at it; without it no stored blob can be decrypted")
            }
            guard mode & 0o077 == 0 else {
                throw StoreError(.keyUnavailable, "key file \(path) has mode \(String(mode, radix: 8)) but must be "
                    + "readable by its owner only: run `chmod 600 \(path)` (and consider the key compromised if "
                    + "others could read it: rotate it)")
            }
            let bytes: [UInt8]?
            do { bytes = try DurableFile.read(path) } catch let error as StoreError {
                throw StoreError(.keyUnavailable, "cannot read key file \(path): \(error.message)", underlying: error.underlying)
            }
            guard let bytes else { throw StoreError(.keyUnavailable, "key file \(path) disappeared while loading it") }
            return KeyRing(path: path, state: try decode(bytes, path: path), directoryLock: lockFD)
        } catch {
            close(lockFD)
            throw error
        }
    }

    /// Loads the key file, or creates it with one fresh random 256-bit KEK when it does not exist.
    ///
    /// Only call this when no blob exists yet (``EncryptedBlobStore/open(directory:keyFile:segmentSize:)``
    /// checks): a new key cannot decrypt blobs wrapped under a lost one.
    public static func loadOrCreate(at path: String) throws -> KeyRing {
        if try DurableFile.mode(of: path) == nil {
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty { try DurableFile.makeDirectory(parent, mode: 0o700) }
            let kid = newKeyID()
            let state = State(active: kid, retiring: [], keys: [kid: SymmetricKey(size: .bits256)], created: [kid: timestamp()])
            _ = try DurableFile.createExclusively(path, with: encode(state), mode: 0o600)  // false: another process won
        }
        return try load(from: path)
    }

    /// A ring that lives only in memory, with one fresh KEK (tests, throw-away stores).
    public static func ephemeral() -> KeyRing {
        let kid = newKeyID()
        return KeyRing(path: nil, state: State(active: kid, retiring: [], keys: [kid: SymmetricKey(size: .bits256)],
                                               created: [kid: timestamp()]), directoryLock: -1)
    }

    // MARK: - State

    /// The kid that wraps new data keys.
    public var activeKeyID: String { lock.withLock { state.active } }

    /// The kids a rotation in progress is moving away from; empty when no rotation is in progress.
    public var retiringKeyIDs: [String] { lock.withLock { state.retiring } }

    /// Every kid the ring holds, sorted.
    public var keyIDs: [String] { lock.withLock { state.keys.keys.sorted() } }

    /// Whether a rotation was begun and not finished (it may have been killed half-way).
    public var isRotationInProgress: Bool { lock.withLock { !state.retiring.isEmpty } }

    /// Wraps `dataKey` for blob `id` under the active KEK.
    func wrap(_ dataKey: SymmetricKey, for id: UUID) throws -> WrappedKey {
        let (kid, kek) = lock.withLock { (state.active, state.keys[state.active]!) }
        return try WrappedKey.wrap(dataKey, id: id, keyID: kid, kek: kek)
    }

    /// Unwraps blob `id`'s data key with the KEK its sidecar names.
    /// - Throws: `.keyUnavailable` when the ring does not hold that kid; `.integrity` when it fails to unwrap.
    func unwrap(_ wrapped: WrappedKey, for id: UUID) throws -> SymmetricKey {
        guard let kek = lock.withLock({ state.keys[wrapped.keyID] }) else {
            throw StoreError(.keyUnavailable, "blob \(id.uuidString.lowercased()) is wrapped under key '\(wrapped.keyID)', "
                + "which \(path ?? "the key ring") does not hold: use the key file these blobs were written with "
                + "(restore it from backup), or restore a damaged .key file")
        }
        return try wrapped.unwrap(id: id, kek: kek)
    }

    func isRetiring(_ kid: String) -> Bool { lock.withLock { state.retiring.contains(kid) } }

    // MARK: - Rotation steps (driven by EncryptedBlobStore.rotateKeys)

    /// Adds a fresh KEK as active and marks every other KEK retiring, persisting the ring before any
    /// data key is wrapped under the new KEK. Does nothing and returns `false` when a rotation is
    /// already in progress: that one must be finished first.
    func beginRotation() throws -> Bool {
        try lock.withLock {
            guard state.retiring.isEmpty else { return false }
            let kid = Self.newKeyID()
            var next = state
            next.retiring = state.keys.keys.sorted()
            next.active = kid
            next.keys[kid] = SymmetricKey(size: .bits256)
            next.created[kid] = Self.timestamp()
            try persist(next)
            state = next
            return true
        }
    }

    /// Drops the retiring KEKs; call only once no sidecar is wrapped under one.
    func finishRotation() throws {
        try lock.withLock {
            guard !state.retiring.isEmpty else { return }
            var next = state
            for kid in state.retiring {
                next.keys[kid] = nil
                next.created[kid] = nil
            }
            next.retiring = []
            try persist(next)
            state = next
        }
    }

    /// Takes the key file's directory lock exclusively for the duration of `body` (a rotation).
    func withExclusiveLock<R>(_ body: () throws -> R) throws -> R {
        guard directoryLock >= 0 else { return try body() }
        guard flock(directoryLock, LOCK_EX | LOCK_NB) == 0 else {
            throw StoreError(.conflict, "another process (a server, worker or rotation) has the key file \(path ?? "") "
                + "open: stop it before rotating keys")
        }
        defer { flock(directoryLock, LOCK_SH) }
        return try body()
    }

    private func persist(_ next: State) throws {
        guard let path else { return }
        try DurableFile.replace(path, with: Self.encode(next), mode: 0o600)
    }

    // MARK: - Helpers

    static func isKeyIDByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x2e || b == 0x5f
    }

    static func newKeyID() -> String {
        "kek-" + (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date())
    }

    private static func lockDirectory(of path: String) throws -> Int32 {
        let parent = (path as NSString).deletingLastPathComponent
        let fd = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw StoreError(.keyUnavailable, "cannot open the directory of key file \(path): \(String(cString: strerror(code))); "
                + "check the path (KARYON_KEY_FILE / --key-file)", underlying: "errno \(code)")
        }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else {
            close(fd)
            throw StoreError(.conflict, "a key rotation is running on \(path) in another process: wait for it to finish")
        }
        return fd
    }
}
