/// Why a client command (`karyon ingest`, `karyon loadtest`) could not go on: a code, a message
/// that says what to do, and the underlying cause when there is one.
public struct ClientError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// A command-line value is malformed or out of range.
        case badInput = "bad_input"
        /// The server refused the token (401).
        case unauthorized
        /// The token's user may not do this (403).
        case forbidden
        /// The study (or another record) does not exist or is not visible (404).
        case notFound = "not_found"
        /// The server answered something this client does not expect.
        case http
        /// The server could not be reached, or the connection broke, after the retries.
        case connection
        /// A local server could not be started or did not become ready.
        case server
        /// A local file could not be read or written.
        case io
        /// Something did not finish in the time allowed.
        case timeout
    }

    public let code: Code
    public let message: String
    public let cause: String?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { cause.map { "\(message) (\($0))" } ?? message }
}
