import FluentKit
import Foundation

/// A subscription: the study's images are analysed by this extractor with these parameters.
/// Storing an image creates one job per subscription in the same transaction.
public final class StudyExtractor: Model, @unchecked Sendable {
    public static let schema = "study_extractors"

    @ID(key: .id) public var id: UUID?
    @Field(key: "study_id") public var studyID: UUID
    @Field(key: "extractor_id") public var extractorID: String
    @Field(key: "extractor_version") public var extractorVersion: String
    /// Canonical JSON of the resolved parameters (defaults filled in, keys sorted).
    @Field(key: "parameters") public var parameters: String
    /// Hex SHA-256 of `parameters`.
    @Field(key: "parameter_hash") public var parameterHash: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public init(id: UUID = UUID(), studyID: UUID, extractorID: String, extractorVersion: String, parameters: String, parameterHash: String, createdAt: Date = Date()) {
        self.id = id
        self.studyID = studyID
        self.extractorID = extractorID
        self.extractorVersion = extractorVersion
        self.parameters = parameters
        self.parameterHash = parameterHash
        self.createdAt = createdAt
    }
}
