/// Why an image could not be read or written. The message names the file and says what to do.
public struct ImageIOError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The path does not exist or cannot be opened.
        case fileNotFound = "file_not_found"
        case unreadable
        /// The bytes are not PNG, JPEG or TIFF.
        case unsupportedFormat = "unsupported_format"
        /// The header declares more pixels than the configured cap.
        case tooLarge = "too_large"
        /// The data is truncated or corrupt.
        case corrupt
        /// A layout Karyon does not read (e.g. a sample type other than 8/16-bit integer or float).
        case unsupportedLayout = "unsupported_layout"
        /// The requested page does not exist.
        case pageOutOfRange = "page_out_of_range"
        case encodeFailed = "encode_failed"
        case writeFailed = "write_failed"
        case libraryUnavailable = "library_unavailable"
    }

    public let code: Code
    public let message: String
    /// The underlying library's message, when there is one.
    public let underlying: String?

    public init(_ code: Code, _ message: String, underlying: String? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying, !underlying.isEmpty { return "\(message) (\(underlying))" }
        return message
    }
}
