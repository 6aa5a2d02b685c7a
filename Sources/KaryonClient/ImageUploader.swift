import Foundation
import KaryonAnalysis

/// Uploads image files to one study, one file per request, each with an `Idempotency-Key`
/// derived from the study and the file's SHA-256: a retry after a lost `201` is answered with the
/// first answer instead of storing the image twice.
public struct ImageUploader: Sendable {
    public let client: APIClient
    public let studyID: String
    public var retry: RetryPolicy

    public init(client: APIClient, studyID: String, retry: RetryPolicy = .upload) {
        self.client = client
        self.studyID = studyID
        self.retry = retry
    }

    /// How one file ended.
    public enum Outcome: Sendable, Equatable {
        /// Stored now (`replayed`: by an earlier try whose answer was lost).
        case uploaded(imageID: String, replayed: Bool)
        /// The study already had these bytes (image id when the server named it).
        case duplicate(imageID: String?)
        /// The server refused the file (not an image, too large, …): retrying cannot help.
        case rejected(String)
        /// Still throttled or unreachable after the retries.
        case failed(String)
    }

    /// `kyn-up-` and the SHA-256 of `study:sha256` (70 printable characters).
    public static func idempotencyKey(study: String, sha256: String) -> String {
        "kyn-up-" + sha256Hex(Array("\(study.lowercased()):\(sha256.lowercased())".utf8))
    }

    /// Sends one file and classifies the answer.
    /// - Parameters:
    ///   - name: the file name the server records (a relative path, say).
    ///   - onRetry: told about each retry (throttled, connection lost, …).
    /// - Throws: ``ClientError`` for answers that concern every file (401, 403, 404: wrong token
    ///   or study), and `CancellationError`.
    public func upload(path: String, size: Int64, sha256: String, name: String,
                       onRetry: (@Sendable (String) -> Void)? = nil) async throws -> Outcome {
        let multipart = MultipartFileBody(path: path, size: size, filename: name)
        let route = "/api/v1/studies/\(studyID)/images"
        let headers = [("Idempotency-Key", Self.idempotencyKey(study: studyID, sha256: sha256))]
        let reply: APIClient.Reply
        do {
            reply = try await retry.run(describing: "upload of \(name)", onRetry: onRetry) {
                try await client.send(.POST, route, body: multipart.body(), contentType: multipart.contentType,
                                      headers: headers, timeout: .seconds(600))
            }
        } catch let error as ClientError where error.code == .connection || error.code == .io {
            return .failed(error.description)
        }
        switch reply.status {
        case 200, 201:
            guard let item = try reply.decode(UploadAnswer.self).images.first else {
                return .failed("the server answered \(reply.status) without an image")
            }
            if item.duplicate == true { return .duplicate(imageID: item.id) }
            return .uploaded(imageID: item.id, replayed: reply.headers.first(name: "Idempotent-Replayed") == "true")
        case 401, 403, 404:
            try client.check(reply, .POST, route)
            return .failed(reply.errorMessage)
        case 422 where reply.errorCode == "idempotency_key_reused":
            // The key is the study and the bytes: this content was stored under another file name.
            return .duplicate(imageID: nil)
        case 400, 413, 415, 422:
            return .rejected("\(reply.status) \(reply.errorCode ?? ""): \(reply.errorMessage)")
        default:
            return .failed("HTTP \(reply.status): \(reply.errorMessage)")
        }
    }
}
