import FluentKit
import Foundation

/// A message on a user's dashboard: an analysis finished, a job failed.
public final class UserNotification: Model, @unchecked Sendable {
    public static let schema = "notifications"

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    @Field(key: "kind") public var kind: String
    @Field(key: "message") public var message: String
    @OptionalField(key: "resource_type") public var resourceType: String?
    @OptionalField(key: "resource_id") public var resourceID: UUID?
    @OptionalField(key: "read_at") public var readAt: Date?
    @Field(key: "created_at") public var createdAt: Date
    /// Set for events that several processes may observe at once (a study's analysis ending) or
    /// that an unread notification gathers (a study's dead letters per extractor): unique, so
    /// the event is announced once. Cleared when the notification is read.
    @OptionalField(key: "dedupe_key") public var dedupeKey: String?

    public init() {}

    public init(id: UUID = UUID(), userID: UUID, kind: String, message: String, resourceType: String?, resourceID: UUID?, createdAt: Date = Date()) {
        self.id = id
        self.userID = userID
        self.kind = kind
        self.message = message
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.createdAt = createdAt
    }
}
