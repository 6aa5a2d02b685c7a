/// An invalid argument to an imaging algorithm: a wrong channel count, mismatched sizes, a
/// parameter out of range. The message says what was expected and how to fix the call.
public struct ImagingError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidArgument = "invalid_argument"
        case sizeMismatch = "size_mismatch"
        case channelCount = "channel_count"
        case emptyInput = "empty_input"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
