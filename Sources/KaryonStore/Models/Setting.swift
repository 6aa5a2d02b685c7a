import FluentKit
import Foundation

/// A platform setting changed by an administrator at run time (e.g. `open_registration`).
public final class Setting: Model, @unchecked Sendable {
    public static let schema = "settings"

    @ID(custom: "key", generatedBy: .user) public var id: String?
    @Field(key: "value") public var value: String
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}

    public init(key: String, value: String, updatedAt: Date = Date()) {
        self.id = key
        self.value = value
        self.updatedAt = updatedAt
    }
}
