import FluentKit
import Foundation

/// A registered extractor (built in, or external over HTTP) with its parameter schema, so every
/// result can say which algorithm and parameters made it.
public final class Algorithm: Model, @unchecked Sendable {
    public static let schema = "algorithms"

    @ID(custom: "id", generatedBy: .user) public var id: String?
    @Field(key: "version") public var version: String
    @Field(key: "summary") public var summary: String
    /// JSON: the extractor's description (parameters with types, defaults, bounds, units; references).
    @Field(key: "description") public var descriptionJSON: String
    /// `builtin` or `external`.
    @Field(key: "origin") public var origin: String
    @Field(key: "updated_at") public var updatedAt: Date
    /// The user who registered an external extractor (nil for built-ins); only they (and
    /// administrators) may claim its jobs.
    @OptionalField(key: "owner_id") public var ownerID: UUID?
    /// JSON array of the output feature names an external extractor declared (nil for built-ins,
    /// whose columns depend on their parameters and input).
    @OptionalField(key: "columns") public var columns: String?

    public init() {}

    public init(id: String, version: String, summary: String, descriptionJSON: String, origin: String, updatedAt: Date = Date(),
                ownerID: UUID? = nil, columns: String? = nil) {
        self.id = id
        self.version = version
        self.summary = summary
        self.descriptionJSON = descriptionJSON
        self.origin = origin
        self.updatedAt = updatedAt
        self.ownerID = ownerID
        self.columns = columns
    }

    /// Where an extractor runs: in Karyon's own workers, or in a worker over HTTP.
    public enum Origin: String, Sendable {
        case builtin, external
    }

    public var isExternal: Bool { origin == Origin.external.rawValue }
}
