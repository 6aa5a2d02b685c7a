import FluentKit
import Foundation

/// One unit of analysis: run one extractor (with one parameter set) on one image.
///
/// States: `queued` → `running` → `succeeded`, or `failed` (retryable, `run_after` in the future)
/// → … → `dead` after `max_attempts`. A claim sets `lease_expires_at` and a fresh
/// `attempt_token`; completing or failing an attempt must present that token, so a worker whose
/// lease was taken over cannot write (fencing).
public final class Job: Model, @unchecked Sendable {
    public static let schema = "jobs"

    public enum State: String, Codable, Sendable, CaseIterable {
        case queued, running, succeeded, failed, dead

        /// Whether the job has reached an end state (no more attempts will be made).
        public var isTerminal: Bool { self == .succeeded || self == .dead }
    }

    @ID(key: .id) public var id: UUID?
    @Field(key: "image_id") public var imageID: UUID
    @Field(key: "study_id") public var studyID: UUID
    @Field(key: "extractor_id") public var extractorID: String
    @Field(key: "extractor_version") public var extractorVersion: String
    @Field(key: "parameters") public var parameters: String
    @Field(key: "parameter_hash") public var parameterHash: String
    @Field(key: "state") public var state: String
    @Field(key: "attempts") public var attempts: Int
    @Field(key: "max_attempts") public var maxAttempts: Int
    /// Not claimable before this time (retry backoff).
    @Field(key: "run_after") public var runAfter: Date
    @OptionalField(key: "lease_expires_at") public var leaseExpiresAt: Date?
    @OptionalField(key: "attempt_token") public var attemptToken: UUID?
    @OptionalField(key: "worker_id") public var workerID: String?
    @OptionalField(key: "last_error") public var lastError: String?
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date
    @OptionalField(key: "finished_at") public var finishedAt: Date?
    /// When the current (or last) attempt was claimed.
    @OptionalField(key: "claimed_at") public var claimedAt: Date?

    public init() {}

    public init(id: UUID = UUID(), imageID: UUID, studyID: UUID, extractorID: String, extractorVersion: String,
                parameters: String, parameterHash: String, maxAttempts: Int = 5, createdAt: Date = Date()) {
        self.id = id
        self.imageID = imageID
        self.studyID = studyID
        self.extractorID = extractorID
        self.extractorVersion = extractorVersion
        self.parameters = parameters
        self.parameterHash = parameterHash
        self.state = State.queued.rawValue
        self.attempts = 0
        self.maxAttempts = maxAttempts
        self.runAfter = createdAt
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }

    public var jobState: State { State(rawValue: state) ?? .queued }
}
