import Foundation
import KaryonStore
import Vapor

extension AppContext {
    /// Decrypts an image's blob; an integrity failure is audited and answered without any byte of it.
    func imageBytes(_ req: Request, _ image: ImageRecord, action: String) async throws -> Data {
        let blobs = self.blobs
        let blobID = image.blobID
        do {
            return try await req.application.threadPool.runIfActive { try blobs.get(blobID) }
        } catch let error as StoreError {
            try? await audit.record(req, action, "image", image.id, outcome: .failure)
            req.logger.error("blob read failed", metadata: ["image.id": "\(image.id!)", "error.code": "\(error.code.rawValue)"])
            switch error.code {
            case .integrity:
                throw APIError(.internalServerError, "integrity_error", "The stored image failed its integrity check and was not sent.")
            case .notFound:
                throw APIError(.internalServerError, "blob_missing", "The stored image is missing.")
            default:
                throw APIError(.internalServerError, "storage_error", "The stored image could not be read.")
            }
        }
    }
}
