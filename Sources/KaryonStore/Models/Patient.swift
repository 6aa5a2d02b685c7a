import FluentKit
import Foundation

/// A patient: protected health information, visible only to the members of its project.
public final class Patient: Model, @unchecked Sendable {
    public static let schema = "patients"

    @ID(key: .id) public var id: UUID?
    @Field(key: "project_id") public var projectID: UUID
    @Field(key: "surname") public var surname: String
    @Field(key: "name") public var name: String
    @OptionalField(key: "address") public var address: String?
    /// ISO 8601 calendar date, `YYYY-MM-DD`.
    @OptionalField(key: "birth_date") public var birthDate: String?
    /// `female`, `male`, `other` or `unknown`.
    @OptionalField(key: "sex") public var sex: String?
    @OptionalField(key: "external_id") public var externalID: String?
    @OptionalField(key: "notes") public var notes: String?
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}

    public init(id: UUID = UUID(), projectID: UUID, surname: String, name: String, createdAt: Date = Date()) {
        self.id = id
        self.projectID = projectID
        self.surname = surname
        self.name = name
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }
}
