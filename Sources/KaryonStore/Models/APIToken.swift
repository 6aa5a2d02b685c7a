import FluentKit
import Foundation

/// A personal API token. Only the SHA-256 of the secret is stored (the secret carries 256 random
/// bits, so a fast hash is the right tool — OWASP: password hashing is for low-entropy secrets).
public final class APIToken: Model, @unchecked Sendable {
    public static let schema = "api_tokens"

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    @Field(key: "name") public var name: String
    /// Hex SHA-256 of the whole token string; unique.
    @Field(key: "token_hash") public var tokenHash: String
    @Field(key: "created_at") public var createdAt: Date
    @OptionalField(key: "last_used_at") public var lastUsedAt: Date?
    @OptionalField(key: "expires_at") public var expiresAt: Date?
    @OptionalField(key: "revoked_at") public var revokedAt: Date?

    public init() {}

    public init(id: UUID = UUID(), userID: UUID, name: String, tokenHash: String, expiresAt: Date?, createdAt: Date = Date()) {
        self.id = id
        self.userID = userID
        self.name = name
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }

    /// Neither revoked nor expired at `now`.
    public func isActive(at now: Date) -> Bool {
        Self.isActive(revokedAt: revokedAt, expiresAt: expiresAt, at: now)
    }

    /// Whether a token revoked at `revokedAt` and expiring at `expiresAt` still holds at `now`.
    public static func isActive(revokedAt: Date?, expiresAt: Date?, at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { $0 > now } ?? true)
    }
}
