import Foundation

/// What ``BlobStore/put(_:id:)`` stored: metadata only, never content.
///
/// No digest: callers that need one (an upload's SHA-256 for deduplication) have computed it
/// before storing, and hashing every blob again would cost each upload and each result's
/// artefacts a pass over their bytes for a value nobody reads.
public struct BlobInfo: Sendable, Equatable, Hashable {
    public let id: UUID
    /// Plaintext length in bytes.
    public let size: Int

    public init(id: UUID, size: Int) {
        self.id = id
        self.size = size
    }
}
