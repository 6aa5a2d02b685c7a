import FluentKit
import Foundation

/// What one extractor computed for one image. Its identity — image, extractor, version and
/// parameter hash — is unique, so a job delivered twice cannot store two results.
public final class ResultRecord: Model, @unchecked Sendable {
    public static let schema = "results"

    @ID(key: .id) public var id: UUID?
    @Field(key: "image_id") public var imageID: UUID
    @Field(key: "study_id") public var studyID: UUID
    @OptionalField(key: "job_id") public var jobID: UUID?
    @Field(key: "extractor_id") public var extractorID: String
    @Field(key: "extractor_version") public var extractorVersion: String
    @Field(key: "parameters") public var parameters: String
    @Field(key: "parameter_hash") public var parameterHash: String
    /// SHA-256 of the analysed image bytes (the input digest of the result's identity).
    @Field(key: "input_sha256") public var inputSHA256: String
    /// JSON object: feature name → number, string or null.
    @Field(key: "features") public var features: String
    /// JSON array of `{kind, blob_id, media_type}` for derived artefacts (labels, GeoJSON, …).
    @Field(key: "artefacts") public var artefacts: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public init(id: UUID = UUID(), imageID: UUID, studyID: UUID, jobID: UUID?, extractorID: String, extractorVersion: String,
                parameters: String, parameterHash: String, inputSHA256: String, features: String, artefacts: String = "[]",
                createdAt: Date = Date()) {
        self.id = id
        self.imageID = imageID
        self.studyID = studyID
        self.jobID = jobID
        self.extractorID = extractorID
        self.extractorVersion = extractorVersion
        self.parameters = parameters
        self.parameterHash = parameterHash
        self.inputSHA256 = inputSHA256
        self.features = features
        self.artefacts = artefacts
        self.createdAt = createdAt
    }
}
