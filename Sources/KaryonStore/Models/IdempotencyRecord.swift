import FluentKit
import Foundation

/// The stored answer to a request made with an `Idempotency-Key` header, so a retried upload
/// returns the first answer instead of storing twice.
public final class IdempotencyRecord: Model, @unchecked Sendable {
    public static let schema = "idempotency_keys"

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    @Field(key: "key") public var key: String
    /// Hex SHA-256 of method, path and body: the same key with another request is a conflict.
    @Field(key: "request_hash") public var requestHash: String
    @Field(key: "status") public var status: Int
    @Field(key: "response") public var response: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public init(id: UUID = UUID(), userID: UUID, key: String, requestHash: String, status: Int, response: String, createdAt: Date = Date()) {
        self.id = id
        self.userID = userID
        self.key = key
        self.requestHash = requestHash
        self.status = status
        self.response = response
        self.createdAt = createdAt
    }
}
