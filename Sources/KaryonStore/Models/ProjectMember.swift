import FluentKit
import Foundation

/// Membership of a user in a project, with the member's role there.
public final class ProjectMember: Model, @unchecked Sendable {
    public static let schema = "project_members"

    /// `owner` manages members and may delete records; `researcher` creates and edits records and
    /// uploads images; `viewer` reads.
    public enum Role: String, Codable, Sendable, CaseIterable {
        case owner, researcher, viewer

        public var canWrite: Bool { self != .viewer }
        public var canManage: Bool { self == .owner }
    }

    @ID(key: .id) public var id: UUID?
    @Field(key: "project_id") public var projectID: UUID
    @Field(key: "user_id") public var userID: UUID
    @Field(key: "role") public var role: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public init(id: UUID = UUID(), projectID: UUID, userID: UUID, role: Role, createdAt: Date = Date()) {
        self.id = id
        self.projectID = projectID
        self.userID = userID
        self.role = role.rawValue
        self.createdAt = createdAt
    }

    public var memberRole: Role { Role(rawValue: role) ?? .viewer }
}
