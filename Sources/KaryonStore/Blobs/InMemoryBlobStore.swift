import Foundation

/// A ``BlobStore`` that keeps plaintext in memory: for tests of code that stores blobs, never for
/// health data (nothing is encrypted, nothing survives the process). Thread-safe.
public final class InMemoryBlobStore: BlobStore, @unchecked Sendable {
    private let lock = NSLock()
    private var blobs: [UUID: Data] = [:]

    public init() {}

    @discardableResult
    public func put(_ plaintext: Data, id: UUID) throws -> BlobInfo {
        try lock.withLock {
            guard blobs[id] == nil else {
                throw StoreError(.conflict, "blob \(id.uuidString.lowercased()) already exists; blobs are immutable, use a new id")
            }
            blobs[id] = plaintext
        }
        return BlobInfo(id: id, size: plaintext.count)
    }

    public func get(_ id: UUID) throws -> Data {
        guard let data = lock.withLock({ blobs[id] }) else {
            throw StoreError(.notFound, "no blob \(id.uuidString.lowercased())")
        }
        return data
    }

    @discardableResult
    public func delete(_ id: UUID) throws -> Bool {
        lock.withLock { blobs.removeValue(forKey: id) != nil }
    }

    public func contains(_ id: UUID) -> Bool {
        lock.withLock { blobs[id] != nil }
    }

    public func allIDs() throws -> [UUID] {
        lock.withLock { blobs.keys.sorted { $0.uuidString < $1.uuidString } }
    }

    /// Memory holds no write times: every blob counts as old.
    public func allIDs(writtenBefore cutoff: Date) throws -> [UUID] {
        try allIDs()
    }
}
