/// Why the record store or the blob store refused or failed an operation.
/// The message says what to do; `underlying` carries the cause when there is one.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No such record or blob (or the caller may not know it exists).
        case notFound = "not_found"
        /// A uniqueness rule would be broken (same e-mail, same result identity, …).
        case conflict
        /// The input is malformed or outside its bounds.
        case invalidInput = "invalid_input"
        /// Stored bytes failed authentication: tampered, swapped, truncated or wrongly keyed.
        case integrity
        /// A key file is missing, unreadable, has unsafe permissions or does not hold a key.
        case keyUnavailable = "key_unavailable"
        /// The file system or the database failed.
        case io
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
