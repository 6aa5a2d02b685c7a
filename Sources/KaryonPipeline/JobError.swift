import Foundation

/// Why a worker's report was refused (house style §5: one error type per module).
public struct JobError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The reported features do not fit the extractor's declared columns.
        case invalidFeatures = "invalid_features"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
