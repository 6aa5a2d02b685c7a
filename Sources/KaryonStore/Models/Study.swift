import FluentKit
import Foundation

/// A study of one patient: a set of images of one kind and stain, analysed by the study's
/// extractors (``StudyExtractor``). Status and progress are computed from its jobs.
public final class Study: Model, @unchecked Sendable {
    public static let schema = "studies"

    /// The preparation the images show.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case cytology, histology, ihc
    }

    @ID(key: .id) public var id: UUID?
    @Field(key: "project_id") public var projectID: UUID
    @Field(key: "patient_id") public var patientID: UUID
    @Field(key: "title") public var title: String
    @Field(key: "kind") public var kind: String
    @OptionalField(key: "stain") public var stain: String?
    @OptionalField(key: "marker") public var marker: String?
    /// Micrometres per pixel for images that do not carry their own.
    @OptionalField(key: "pixel_size") public var pixelSize: Double?
    @Field(key: "created_by") public var createdBy: UUID
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}

    public init(id: UUID = UUID(), projectID: UUID, patientID: UUID, title: String, kind: Kind, createdBy: UUID, createdAt: Date = Date()) {
        self.id = id
        self.projectID = projectID
        self.patientID = patientID
        self.title = title
        self.kind = kind.rawValue
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }
}
