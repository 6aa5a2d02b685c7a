/// Why an extractor could not be configured or run. The message says how to fix the call.
public struct ExtractorError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unknownExtractor = "unknown_extractor"
        case unknownParameter = "unknown_parameter"
        case invalidParameter = "invalid_parameter"
        case parameterOutOfBounds = "parameter_out_of_bounds"
        /// The input does not suit the extractor (e.g. gray image for a stain extractor, empty mask).
        case invalidInput = "invalid_input"
        /// The extractor produced columns other than those it declared: a defect in the extractor.
        case outputMismatch = "output_mismatch"
        case failed
    }

    public let code: Code
    public let message: String
    public let underlying: String?

    public init(_ code: Code, _ message: String, underlying: String? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
