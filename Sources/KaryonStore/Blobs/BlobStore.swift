import Foundation

/// Where uploaded images and derived artefacts are kept, by id.
///
/// Implementations are thread-safe and synchronous: the server calls them off its event loops (on a
/// thread pool), workers call them directly. Blobs are immutable: a `put` under an id that already
/// holds a blob is refused, so a reader never sees a mix of two versions.
///
/// - ``EncryptedBlobStore``: the real store, AES-256-GCM envelope encryption in a directory.
/// - ``InMemoryBlobStore``: plaintext in memory, for tests of the code that uses a store.
public protocol BlobStore: Sendable {
    /// Stores `plaintext` under `id` durably before returning.
    /// - Returns: the id and size of the plaintext.
    /// - Throws: `StoreError.conflict` when `id` already holds a blob; `.io` when the write fails
    ///   (nothing is then stored under `id`).
    @discardableResult
    func put(_ plaintext: Data, id: UUID) throws -> BlobInfo

    /// The whole plaintext of blob `id`, fully authenticated before any byte is returned.
    /// - Throws: `StoreError.notFound`; `.integrity` when the stored bytes were altered, truncated or
    ///   swapped; `.keyUnavailable` when the key that wraps it is missing.
    func get(_ id: UUID) throws -> Data

    /// Removes blob `id` so that it can never be read again. Idempotent.
    /// - Returns: whether anything was removed.
    @discardableResult
    func delete(_ id: UUID) throws -> Bool

    /// Whether blob `id` is stored (complete, whether or not its bytes are intact).
    func contains(_ id: UUID) -> Bool

    /// The ids of every blob, including incomplete leftovers of an interrupted `put`, so that start-up
    /// can collect the ones no database row points to. Sorted.
    func allIDs() throws -> [UUID]

    /// Ids of blobs last written before `cutoff`: candidates for orphan collection that cannot
    /// belong to an upload still on its way to its commit (in this or another process).
    func allIDs(writtenBefore cutoff: Date) throws -> [UUID]
}
