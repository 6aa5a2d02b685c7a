import Crypto
import Foundation

/// What ``BlobStore/put(_:id:)`` stored: metadata only, never content.
public struct BlobInfo: Sendable, Equatable, Hashable {
    public let id: UUID
    /// Plaintext length in bytes.
    public let size: Int
    /// SHA-256 of the plaintext, lowercase hex (64 characters).
    public let sha256: String

    public init(id: UUID, size: Int, sha256: String) {
        self.id = id
        self.size = size
        self.sha256 = sha256
    }

    /// The info of `plaintext` stored under `id`.
    init(id: UUID, plaintext: some DataProtocol) {
        self.init(id: id, size: plaintext.count,
                  sha256: SHA256.hash(data: plaintext).map { String(format: "%02x", $0) }.joined())
    }
}
