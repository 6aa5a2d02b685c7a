import Foundation

/// When and how long to wait before trying a request again: on a transport failure (refused,
/// reset, timed out) and on the statuses in ``statuses`` (throttling, overload), after
/// `Retry-After` when the server sends one (capped at ``maxRetryAfter``), else after exponential
/// backoff with jitter. Bounded: at most ``attempts`` tries in all.
///
/// ## References
/// - RFC 9110 §10.2.3 (Retry-After); M. Brooker, "Exponential Backoff And Jitter", AWS
///   Architecture Blog, 2015.
public struct RetryPolicy: Sendable {
    public var attempts: Int
    /// First backoff; doubled per attempt, capped at ``maxDelay``, times a jitter in [½, 1].
    public var baseDelay: TimeInterval
    public var maxDelay: TimeInterval
    public var maxRetryAfter: TimeInterval
    public var statuses: Set<Int>

    public init(attempts: Int, baseDelay: TimeInterval = 0.25, maxDelay: TimeInterval = 8, maxRetryAfter: TimeInterval = 60,
                statuses: Set<Int> = [429, 502, 503, 504]) {
        self.attempts = max(1, attempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
        self.statuses = statuses
    }

    /// Reads and small writes: six tries (about 8 s of backoff in all without Retry-After).
    public static let standard = RetryPolicy(attempts: 6)

    /// Uploads carry an `Idempotency-Key`, so a conflict (409) or a server error after which the
    /// image may or may not be stored is safe to repeat too.
    public static let upload = RetryPolicy(attempts: 8, statuses: [409, 429, 500, 502, 503, 504])

    /// The wait before try `attempt + 1`.
    public func delay(afterAttempt attempt: Int, retryAfter: TimeInterval?, jitter: Double) -> TimeInterval {
        if let retryAfter { return min(max(0, retryAfter), maxRetryAfter) }
        let raw = baseDelay * pow(2, Double(max(0, attempt - 1)))
        return min(maxDelay, raw) * (0.5 + 0.5 * min(max(jitter, 0), 1))
    }

    /// Runs `exchange` until it answers a status not in ``statuses`` or the tries are used up
    /// (then the last answer is returned: the caller reports it).
    /// - Parameter onRetry: told why each retry happens (for counters and progress).
    /// - Throws: ``ClientError/Code/connection`` when the last try failed in transport;
    ///   `CancellationError` at once when the task is cancelled.
    public func run(describing what: String, onRetry: (@Sendable (String) -> Void)? = nil,
                    _ exchange: () async throws -> APIClient.Reply) async throws -> APIClient.Reply {
        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            let wait: TimeInterval
            do {
                let reply = try await exchange()
                guard statuses.contains(reply.status), attempt < attempts else { return reply }
                onRetry?("HTTP \(reply.status)")
                wait = delay(afterAttempt: attempt, retryAfter: reply.retryAfter, jitter: .random(in: 0...1))
            } catch let error as ClientError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                guard attempt < attempts else {
                    throw ClientError(.connection, "\(what) failed after \(attempt) tries", cause: Self.describe(error))
                }
                onRetry?(Self.describe(error))
                wait = delay(afterAttempt: attempt, retryAfter: nil, jitter: .random(in: 0...1))
            }
            try await Task.sleep(for: .seconds(wait))
        }
    }

    /// A short, readable cause ("connection refused", "read timeout", …).
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.localizedCaseInsensitiveContains("refused") { return "connection refused" }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
