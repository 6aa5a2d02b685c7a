import FluentKit
import Foundation

/// A person who signs in. `role` is the platform role; what a user may see of patients and studies
/// is decided by project membership (``ProjectMember``), not by this role.
public final class User: Model, @unchecked Sendable {
    public static let schema = "users"

    /// Platform roles: `admin` manages accounts, settings and the audit log; `researcher` creates
    /// projects and records; `viewer` reads what the projects it belongs to hold.
    public enum Role: String, Codable, Sendable, CaseIterable {
        case admin, researcher, viewer
    }

    @ID(key: .id) public var id: UUID?
    /// Lower-cased, trimmed; unique.
    @Field(key: "email") public var email: String
    @Field(key: "name") public var name: String
    /// bcrypt (cost ≥ 12) of the password; never leaves the server.
    @Field(key: "password_hash") public var passwordHash: String
    @Field(key: "role") public var role: String
    /// Consecutive failed logins since the last success (login throttling).
    @Field(key: "failed_logins") public var failedLogins: Int
    @OptionalField(key: "locked_until") public var lockedUntil: Date?
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public init(id: UUID = UUID(), email: String, name: String, passwordHash: String, role: Role, createdAt: Date = Date()) {
        self.id = id
        self.email = email
        self.name = name
        self.passwordHash = passwordHash
        self.role = role.rawValue
        self.failedLogins = 0
        self.lockedUntil = nil
        self.createdAt = createdAt
    }

    public var platformRole: Role { Role(rawValue: role) ?? .viewer }
}
