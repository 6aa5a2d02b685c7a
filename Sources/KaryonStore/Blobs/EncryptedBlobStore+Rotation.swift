import Crypto
import Foundation

/// What ``EncryptedBlobStore/rotateKeys(limit:)`` did.
public struct KeyRotationReport: Sendable, Equatable {
    /// `true` when this call added a new KEK; `false` when it resumed a rotation already in progress.
    public var startedNewRotation: Bool
    /// Data keys re-wrapped under the active KEK by this call.
    public var rewrapped: Int
    /// Data keys that were already under the active KEK.
    public var alreadyCurrent: Int
    /// Blobs whose `.key` file could not be re-wrapped (damaged, or under a kid the ring lacks); while
    /// any remain, the retiring KEKs are kept and the rotation stays in progress.
    public var failed: [UUID]
    /// Whether the rotation completed and the retiring KEKs were dropped from the key file.
    public var finished: Bool
    /// The KEK that now wraps new data keys.
    public var activeKeyID: String
    /// The KEKs dropped from the key file by this call (empty unless `finished`).
    public var droppedKeyIDs: [String]
}

/// How many data keys each KEK wraps: what `karyon keys status` prints.
public struct KeyUsage: Sendable, Equatable {
    /// Number of `.key` files per kid.
    public var byKeyID: [String: Int]
    /// Blobs whose `.key` file is unreadable or damaged.
    public var damaged: [UUID]
}

extension EncryptedBlobStore {
    /// Re-wraps every data key under a new key-encryption key, then drops the old KEK(s).
    ///
    /// Steps, each durable before the next:
    /// 1. If no rotation is in progress, add a fresh KEK as active and mark all others retiring, and
    ///    persist the key file. If one is in progress (a previous run was killed), resume it instead:
    ///    a fresh rotation is never started on top of an unfinished one.
    /// 2. For each blob whose `.key` file names a retiring kid: unwrap, wrap under the active KEK, and
    ///    atomically replace the `.key` file. The ciphertext is never touched, so no data key seals
    ///    twice (see `BlobFormat` for why that matters to the nonces).
    /// 3. Once no `.key` file names a retiring kid, fsync the shard directories and drop the retiring
    ///    KEKs from the key file.
    ///
    /// Killed at any instant, every blob stays readable: the key file holds both the old and the new
    /// KEK until step 3, and each `.key` file is either the old wrap or the new one. Running it again
    /// finishes the job.
    ///
    /// While it runs, `put` in this process wraps under the new KEK; other processes using the same key
    /// file must be stopped first (see ``KeyRing``), else this throws `StoreError.conflict`.
    ///
    /// - Parameter limit: re-wrap at most this many data keys, then return with `finished == false`
    ///   (rotating in batches; tests use it to stop half-way). `nil`: all of them.
    /// - Throws: `.conflict` when another process has the key file open; `.io` on a write failure (the
    ///   rotation then stays in progress and can be resumed).
    /// - Complexity: O(number of blobs) small-file reads and writes; no blob content is read.
    @discardableResult
    public func rotateKeys(limit: Int? = nil) throws -> KeyRotationReport {
        try keyRing.withExclusiveLock {
            let started = try wrapping.exclusive { try keyRing.beginRotation() }
            var report = KeyRotationReport(startedNewRotation: started, rewrapped: 0, alreadyCurrent: 0, failed: [],
                                           finished: false, activeKeyID: keyRing.activeKeyID, droppedKeyIDs: [])
            var touched = Set<String>()
            defer { for shard in touched.sorted() { try? DurableFile.syncDirectory(shard) } }
            for id in try allIDs() {
                if let limit, report.rewrapped >= limit { return report }
                do {
                    let outcome: Bool? = try stripes.withLock(id) {
                        guard let bytes = try DurableFile.read(keyPath(id)) else { return nil }  // no key: orphan ciphertext
                        let wrapped = try WrappedKey(parsing: bytes, id: id)
                        guard keyRing.isRetiring(wrapped.keyID) else {
                            guard wrapped.keyID == keyRing.activeKeyID else {
                                throw StoreError(.keyUnavailable, "blob \(name(id)) is under unknown key '\(wrapped.keyID)'")
                            }
                            return false
                        }
                        let dataKey = try keyRing.unwrap(wrapped, for: id)
                        let next = try keyRing.wrap(dataKey, for: id)
                        try DurableFile.replace(keyPath(id), with: next.bytes, syncDirectory: false)
                        touched.insert(shardPath(id))
                        return true
                    }
                    switch outcome {
                    case true?: report.rewrapped += 1
                    case false?: report.alreadyCurrent += 1
                    case nil: break
                    }
                } catch let error as StoreError where error.code == .integrity || error.code == .keyUnavailable {
                    report.failed.append(id)
                }
            }
            guard report.failed.isEmpty else { return report }
            for shard in touched.sorted() { try DurableFile.syncDirectory(shard) }
            touched.removeAll()
            report.droppedKeyIDs = keyRing.retiringKeyIDs
            try keyRing.finishRotation()
            report.finished = true
            return report
        }
    }

    /// Counts the `.key` files by the kid that wraps them (without unwrapping anything).
    public func keyUsage() throws -> KeyUsage {
        var usage = KeyUsage(byKeyID: [:], damaged: [])
        for id in try allIDs() {
            do {
                guard let bytes = try DurableFile.read(keyPath(id)) else { continue }
                usage.byKeyID[try WrappedKey(parsing: bytes, id: id).keyID, default: 0] += 1
            } catch {
                usage.damaged.append(id)
            }
        }
        return usage
    }
}
