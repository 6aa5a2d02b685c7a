import Foundation
import KaryonStore
import Vapor

extension AppContext {
    /// Decrypts an image's blob; an integrity failure is audited and answered without any byte of it.
    func imageBytes(_ req: Request, _ image: ImageRecord, action: String) async throws -> Data {
        try await blobBytes(req, image.blobID, resource: "image", id: image.id, what: "stored image", action: action)
    }

    /// Decrypts blob `blobID` (belonging to `resource` `id`) off the event loops. A blob that
    /// fails its integrity check, is missing or unreadable is audited as a failed `action`,
    /// logged, and answered with a 500 naming the problem — never with any of its bytes.
    func blobBytes(_ req: Request, _ blobID: UUID, resource: String, id: UUID?, what: String, action: String) async throws -> Data {
        let blobs = self.blobs
        do {
            return try await req.application.threadPool.runIfActive { try blobs.get(blobID) }
        } catch let error as StoreError {
            try? await audit.record(req, action, resource, id, outcome: .failure)
            req.logger.error("blob read failed", metadata: ["\(resource).id": "\(id.map { "\($0)" } ?? "-")", "blob.id": "\(blobID)",
                                                            "error.code": "\(error.code.rawValue)"])
            switch error.code {
            case .integrity:
                throw APIError(.internalServerError, "integrity_error", "The \(what) failed its integrity check and was not sent.")
            case .notFound:
                throw APIError(.internalServerError, "blob_missing", "The \(what) is missing.")
            default:
                throw APIError(.internalServerError, "storage_error", "The \(what) could not be read.")
            }
        }
    }
}
