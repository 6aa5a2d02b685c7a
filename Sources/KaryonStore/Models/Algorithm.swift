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

    public init() {}

    public init(id: String, version: String, summary: String, descriptionJSON: String, origin: String, updatedAt: Date = Date()) {
        self.id = id
        self.version = version
        self.summary = summary
        self.descriptionJSON = descriptionJSON
        self.origin = origin
        self.updatedAt = updatedAt
    }
}
