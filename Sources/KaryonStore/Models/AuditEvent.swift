import FluentKit
import Foundation

/// One append-only audit row: who did what to which resource, and whether it was allowed.
/// It holds ids and verbs only — never names, addresses or other health information
/// (HIPAA §164.312(b) audit controls). The database refuses updates and deletes of these rows.
public final class AuditEvent: Model, @unchecked Sendable {
    public static let schema = "audit_events"

    /// `success`, `denied` (authorisation refused, or the resource is not visible) or `failure`.
    public enum Outcome: String, Codable, Sendable {
        case success, denied, failure
    }

    @ID(key: .id) public var id: UUID?
    @Field(key: "at") public var at: Date
    @OptionalField(key: "actor_id") public var actorID: UUID?
    @OptionalField(key: "token_id") public var tokenID: UUID?
    /// Dotted verb, e.g. `patient.read`, `image.download`, `auth.login`.
    @Field(key: "action") public var action: String
    @Field(key: "resource_type") public var resourceType: String
    @OptionalField(key: "resource_id") public var resourceID: String?
    @Field(key: "outcome") public var outcome: String
    @OptionalField(key: "request_id") public var requestID: String?

    public init() {}

    public init(id: UUID = UUID(), at: Date = Date(), actorID: UUID?, tokenID: UUID?, action: String,
                resourceType: String, resourceID: String?, outcome: Outcome, requestID: String?) {
        self.id = id
        self.at = at
        self.actorID = actorID
        self.tokenID = tokenID
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.outcome = outcome.rawValue
        self.requestID = requestID
    }
}
