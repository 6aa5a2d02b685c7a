import FluentKit
import Foundation

/// A group of people and the patients and studies they share. Every patient and study belongs to
/// exactly one project and is visible only to its members.
public final class Project: Model, @unchecked Sendable {
    public static let schema = "projects"

    @ID(key: .id) public var id: UUID?
    @Field(key: "name") public var name: String
    @Field(key: "created_by") public var createdBy: UUID
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public init(id: UUID = UUID(), name: String, createdBy: UUID, createdAt: Date = Date()) {
        self.id = id
        self.name = name
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}
