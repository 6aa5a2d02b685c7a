import FluentKit
import Foundation
import KaryonStore
import SQLKit

/// A job handed to one worker: what to run, and the attempt token that proves the lease.
public struct ClaimedJob: Sendable, Equatable {
    public let id: UUID
    public let imageID: UUID
    public let studyID: UUID
    public let extractorID: String
    public let extractorVersion: String
    /// Canonical JSON of the resolved parameters.
    public let parameters: String
    public let parameterHash: String
    public let attempt: Int
    public let maxAttempts: Int
    /// Presented with every heartbeat, completion and failure; a newer claim replaces it.
    public let attemptToken: UUID
}

extension ClaimedJob {
    /// The attempt a worker outside this process says it holds: the job as stored, with the
    /// token the worker presents. The queue's fencing decides whether that token still holds the
    /// lease; this value only names the attempt.
    public init(_ job: Job, presenting token: UUID) throws {
        self.init(id: try job.requireID(), imageID: job.imageID, studyID: job.studyID, extractorID: job.extractorID,
                  extractorVersion: job.extractorVersion, parameters: job.parameters, parameterHash: job.parameterHash,
                  attempt: job.attempts, maxAttempts: job.maxAttempts, attemptToken: token)
    }
}

/// How often and how long to retry, and how long a lease lasts.
public struct QueuePolicy: Sendable {
    /// A running job whose lease is older than this is given back to the queue by the reaper.
    public var lease: TimeInterval = 60
    /// First retry delay; doubled per attempt, capped at ``maxBackoff``, with jitter in [½, 1].
    public var backoff: TimeInterval = 2
    public var maxBackoff: TimeInterval = 600

    public init(lease: TimeInterval = 60, backoff: TimeInterval = 2, maxBackoff: TimeInterval = 600) {
        self.lease = lease
        self.backoff = backoff
        self.maxBackoff = maxBackoff
    }

    /// The delay before attempt `attempt + 1` after `attempt` failed ("exponential backoff with
    /// jitter", AWS Architecture Blog 2015).
    public func delay(afterAttempt attempt: Int, jitter: Double) -> TimeInterval {
        let raw = backoff * pow(2, Double(max(0, attempt - 1)))
        return min(maxBackoff, raw) * (0.5 + 0.5 * min(max(jitter, 0), 1))
    }
}

/// The durable job queue, in the `jobs` table of the record store (SQLite or PostgreSQL).
///
/// Claiming is one atomic statement: SQLite `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING …`
/// (SQLite serialises writers), PostgreSQL the same with `FOR UPDATE SKIP LOCKED` in the subquery
/// so concurrent workers never wait on each other's rows. Each claim increments `attempts`, sets a
/// lease and a fresh attempt token. Completing stores the result and ends the job in one
/// transaction, and only while the caller's token is still the job's (fencing: a worker that lost
/// its lease cannot write). Results are unique per (image, extractor, version, parameter hash).
///
/// ## References
/// - River, Oban and pgmq job queues (PostgreSQL `SKIP LOCKED`); M. Kleppmann, "How to do
///   distributed locking" (2016) on fencing tokens.
public struct JobQueue: Sendable {
    public let database: any Database
    public let policy: QueuePolicy
    /// The embedded database's file, when `database` is SQLite on a file: worker slots then run
    /// each job's reads and its completion on a ``DirectSQLite`` connection of their own
    /// (``openDirectConnection()``). Nil on PostgreSQL.
    public let directSQLitePath: String?
    /// Whether the direct connections' commits checkpoint the log (SQLite's default); false in a
    /// process whose own checkpointer does it (the server, with in-process workers).
    public let directCheckpoints: Bool
    /// How long a direct connection's statement waits for another connection's write lock before
    /// it fails (the job then fails, retryably, and the slot opens a fresh connection).
    public let directBusyTimeout: TimeInterval

    public init(database: any Database, policy: QueuePolicy = .init(), directSQLitePath: String? = nil, directCheckpoints: Bool = true,
                directBusyTimeout: TimeInterval = 30) {
        self.database = database
        self.policy = policy
        self.directSQLitePath = directSQLitePath
        self.directCheckpoints = directCheckpoints
        self.directBusyTimeout = directBusyTimeout
    }

    /// A direct connection for one worker slot, or nil without ``directSQLitePath``.
    ///
    /// Its commits do not sync the log (``DirectSQLite/Durability/normal``): a job's completion
    /// that a power loss undoes leaves the job running under its lease, which the reaper then
    /// returns to the queue, so the work is redone, not lost (the artefact blob it wrote is
    /// collected as an orphan). Uploads, which cannot be redone, commit through the server's
    /// connections, which sync (and make earlier commits durable with them).
    public func openDirectConnection() throws -> DirectSQLite? {
        guard let path = directSQLitePath else { return nil }
        return try DirectSQLite(path: path, dialect: try sql, busyTimeout: directBusyTimeout, durability: .normal,
                                autoCheckpoint: directCheckpoints)
    }

    var sql: any SQLDatabase {
        get throws { try database.sql(for: "the job queue") }
    }

    var isPostgres: Bool { (try? sql.dialect.name) == "postgresql" }

    /// Claims the oldest runnable job of one of `extractors` for `worker`, or nil when none is due.
    public func claim(extractors: [String], worker: String, now: Date = Date()) async throws -> ClaimedJob? {
        try await claim(extractors: extractors, worker: worker, now: now, on: try self.sql)
    }

    /// The claim as one statement on `sql` (this queue's database, or a transaction of it).
    private func claim(extractors: [String], worker: String, now: Date, on sql: any SQLDatabase) async throws -> ClaimedJob? {
        guard !extractors.isEmpty else { return nil }
        let token = UUID()
        let rows = try await sql.raw(claimStatement(extractors: extractors, worker: worker, token: token, now: now, postgres: isPostgres)).all()
        return try rows.first.map { try Self.claimed($0, token: token) }
    }

    /// The claim statement: the oldest runnable job of `extractors` becomes `worker`'s, under `token`.
    private func claimStatement(extractors: [String], worker: String, token: UUID, now: Date, postgres: Bool) -> SQLQueryString {
        let lock = postgres ? SQLRaw(" FOR UPDATE SKIP LOCKED") : SQLRaw("")
        return """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, attempt_token = \(bind: token),
                worker_id = \(bind: worker), lease_expires_at = \(bind: now.addingTimeInterval(policy.lease)),
                claimed_at = \(bind: now), updated_at = \(bind: now)
            WHERE id = (SELECT id FROM jobs WHERE state IN ('queued', 'failed') AND run_after <= \(bind: now)
                        AND extractor_id IN (\(binds: extractors)) ORDER BY run_after, created_at LIMIT 1\(lock))
              AND state IN ('queued', 'failed')
            RETURNING id, image_id, study_id, extractor_id, extractor_version, parameters, parameter_hash, attempts, max_attempts
            """
    }

    private static func claimed(_ row: any SQLRow, token: UUID) throws -> ClaimedJob {
        ClaimedJob(
            id: try row.decode(column: "id", as: UUID.self), imageID: try row.decode(column: "image_id", as: UUID.self),
            studyID: try row.decode(column: "study_id", as: UUID.self), extractorID: try row.decode(column: "extractor_id", as: String.self),
            extractorVersion: try row.decode(column: "extractor_version", as: String.self),
            parameters: try row.decode(column: "parameters", as: String.self), parameterHash: try row.decode(column: "parameter_hash", as: String.self),
            attempt: try row.decode(column: "attempts", as: Int.self), maxAttempts: try row.decode(column: "max_attempts", as: Int.self),
            attemptToken: token)
    }

    /// Extends the lease of a running job; false when the caller no longer holds it.
    public func heartbeat(_ job: ClaimedJob, now: Date = Date()) async throws -> Bool {
        let rows = try await sql.raw("""
            UPDATE jobs SET lease_expires_at = \(bind: now.addingTimeInterval(policy.lease)), updated_at = \(bind: now)
            WHERE id = \(bind: job.id) AND attempt_token = \(bind: job.attemptToken) AND state = 'running' RETURNING id
            """).all()
        return !rows.isEmpty
    }

    /// What a successful attempt produced.
    public struct Output: Sendable {
        public var features: String
        /// The `artefacts` column: stored artefacts (``ResultArtefact``) as JSON.
        public var artefacts: String
        public var inputSHA256: String
        /// Artefact files not yet stored in a blob (``JobRunner`` stores them before completing).
        public var files: [ResultArtefact.File]

        public init(features: String, artefacts: String = "[]", inputSHA256: String, files: [ResultArtefact.File] = []) {
            self.features = features
            self.artefacts = artefacts
            self.inputSHA256 = inputSHA256
            self.files = files
        }
    }

    /// How a completion ended.
    public enum Completion: Sendable, Equatable {
        /// Result stored and job succeeded.
        case stored
        /// The job succeeded, but an identical result already existed (duplicate delivery).
        case duplicate
        /// The caller's attempt token is no longer the job's: nothing was written.
        case fenced
    }

    /// Ends the attempt successfully: the result row and the job's end state in one transaction.
    public func complete(_ job: ClaimedJob, output: Output, now: Date = Date()) async throws -> Completion {
        try await complete(job, output: output, thenClaim: [], worker: "", now: now).completion
    }

    /// ``complete(_:output:now:)`` and then, in the same transaction, a claim of the next job of
    /// `extractors` (none when empty) for `worker`: a busy slot commits once per job instead of
    /// twice (each SQLite commit takes the database's one write lock and syncs its log). The
    /// claim happens whether or not the completion was fenced; if the transaction fails, neither
    /// happened.
    public func complete(_ job: ClaimedJob, output: Output, thenClaim extractors: [String], worker: String,
                         now: Date = Date()) async throws -> (completion: Completion, next: ClaimedJob?) {
        try await database.transaction { db in
            let sql = try db.sql(for: "the job queue")
            let completion = try await Self.complete(job, output: output, now: now, on: sql)
            return (completion, try await claim(extractors: extractors, worker: worker, now: now, on: sql))
        }
    }

    private static func complete(_ job: ClaimedJob, output: Output, now: Date, on sql: any SQLDatabase) async throws -> Completion {
        guard !(try await sql.raw(finishStatement(job, now: now)).all()).isEmpty else { return .fenced }
        return try await sql.raw(resultStatement(job, output: output, now: now)).all().isEmpty ? .duplicate : .stored
    }

    /// ``complete(_:output:thenClaim:worker:now:)`` on a direct connection to the embedded
    /// database (``DirectSQLite``), from the caller's thread: the same statements in one
    /// transaction, without the driver's thread hand-offs (a worker slot's bookkeeping per job).
    public func complete(_ job: ClaimedJob, output: Output, thenClaim extractors: [String], worker: String, now: Date = Date(),
                         on connection: DirectSQLite) throws -> (completion: Completion, next: ClaimedJob?) {
        try connection.transaction { db in
            let completion: Completion
            if try db.rows(Self.finishStatement(job, now: now)).isEmpty {
                completion = .fenced
            } else {
                completion = try db.rows(Self.resultStatement(job, output: output, now: now)).isEmpty ? .duplicate : .stored
            }
            guard !extractors.isEmpty else { return (completion, nil) }
            let token = UUID()
            let next = try db.rows(claimStatement(extractors: extractors, worker: worker, token: token, now: now, postgres: false))
                .first.map { try Self.claimed($0, token: token) }
            return (completion, next)
        }
    }

    /// Ends a running job as succeeded, only under the caller's token (returns its id, or no row).
    private static func finishStatement(_ job: ClaimedJob, now: Date) -> SQLQueryString {
        """
        UPDATE jobs SET state = 'succeeded', finished_at = \(bind: now), updated_at = \(bind: now),
            lease_expires_at = NULL, last_error = NULL
        WHERE id = \(bind: job.id) AND attempt_token = \(bind: job.attemptToken) AND state = 'running' RETURNING id
        """
    }

    /// Stores the result unless an identical one exists (returns its id, or no row).
    private static func resultStatement(_ job: ClaimedJob, output: Output, now: Date) -> SQLQueryString {
        """
        INSERT INTO results (id, image_id, study_id, job_id, extractor_id, extractor_version, parameters, parameter_hash,
                             input_sha256, features, artefacts, created_at)
        VALUES (\(bind: UUID()), \(bind: job.imageID), \(bind: job.studyID), \(bind: job.id), \(bind: job.extractorID),
                \(bind: job.extractorVersion), \(bind: job.parameters), \(bind: job.parameterHash), \(bind: output.inputSHA256),
                \(bind: output.features), \(bind: output.artefacts), \(bind: now))
        ON CONFLICT (image_id, extractor_id, extractor_version, parameter_hash) DO NOTHING RETURNING id
        """
    }

    /// Ends the attempt with an error: retried after a backoff, or dead once `maxAttempts` are
    /// used (or at once when `retryable` is false). Returns the new state, nil when fenced.
    public func fail(_ job: ClaimedJob, error message: String, retryable: Bool = true, now: Date = Date(),
                     jitter: Double = Double.random(in: 0...1)) async throws -> Job.State? {
        let dead = !retryable || job.attempt >= job.maxAttempts
        let state: Job.State = dead ? .dead : .failed
        let runAfter = now.addingTimeInterval(dead ? 0 : policy.delay(afterAttempt: job.attempt, jitter: jitter))
        let rows = try await sql.raw("""
            UPDATE jobs SET state = \(bind: state.rawValue), last_error = \(bind: String(message.prefix(2000))),
                run_after = \(bind: runAfter), lease_expires_at = NULL, updated_at = \(bind: now),
                finished_at = \(bind: dead ? now : nil as Date?)
            WHERE id = \(bind: job.id) AND attempt_token = \(bind: job.attemptToken) AND state = 'running' RETURNING id
            """).all()
        return rows.isEmpty ? nil : state
    }

    /// Gives expired leases back: such a job is retried (its attempt counted) or, with no
    /// attempts left, dead-lettered with "lease expired". Returns how many jobs were touched.
    @discardableResult
    public func reap(now: Date = Date()) async throws -> Int {
        let reaped = try await reapReporting(now: now)
        return reaped.dead.count + reaped.retried.count
    }

    /// A job the reaper dead-lettered: its lease expired on its last attempt (the worker was
    /// killed or stopped each time, say by an image that crashes the extractor's process).
    public struct DeadLetter: Sendable, Equatable {
        public var id: UUID
        public var imageID: UUID
        public var studyID: UUID
        public var extractorID: String
        public var attempts: Int
    }

    /// The error a job dead-lettered by the reaper keeps.
    public static let expiredOnLastAttempt = "lease expired (worker stopped or killed) on the last attempt"

    /// What ``reapReporting(now:)`` did: the jobs dead-lettered (for their notifications), and
    /// the extractor of each job returned to the queue (runnable at once), so their pools can be
    /// woken.
    public struct Reaped: Sendable, Equatable {
        public var dead: [DeadLetter]
        public var retried: [String]
    }

    /// ``reap(now:)``, reporting what it dead-lettered and which extractors got runnable jobs
    /// back. Each expired job is reported by exactly one reaper, however many run.
    public func reapReporting(now: Date = Date()) async throws -> Reaped {
        let sql = try self.sql
        let dead = try await sql.raw("""
            UPDATE jobs SET state = 'dead', last_error = \(bind: Self.expiredOnLastAttempt),
                lease_expires_at = NULL, finished_at = \(bind: now), updated_at = \(bind: now)
            WHERE state = 'running' AND lease_expires_at < \(bind: now) AND attempts >= max_attempts
            RETURNING id, image_id, study_id, extractor_id, attempts
            """).all()
        let retried = try await sql.raw("""
            UPDATE jobs SET state = 'failed', last_error = 'lease expired (worker stopped or killed)',
                run_after = \(bind: now), lease_expires_at = NULL, updated_at = \(bind: now)
            WHERE state = 'running' AND lease_expires_at < \(bind: now) RETURNING extractor_id
            """).all()
        return Reaped(dead: try dead.map { row in
                          DeadLetter(id: try row.decode(column: "id", as: UUID.self), imageID: try row.decode(column: "image_id", as: UUID.self),
                                     studyID: try row.decode(column: "study_id", as: UUID.self),
                                     extractorID: try row.decode(column: "extractor_id", as: String.self),
                                     attempts: try row.decode(column: "attempts", as: Int.self))
                      },
                      retried: try retried.map { try $0.decode(column: "extractor_id", as: String.self) })
    }

    /// Gives a running job back without counting the attempt (a worker shutting down gracefully
    /// that could not finish in time). Clearing the token fences the abandoned attempt. False
    /// when the caller no longer held the lease.
    public func release(_ job: ClaimedJob, now: Date = Date()) async throws -> Bool {
        let rows = try await sql.raw("""
            UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_after = \(bind: now), lease_expires_at = NULL,
                attempt_token = NULL, worker_id = NULL, updated_at = \(bind: now)
            WHERE id = \(bind: job.id) AND attempt_token = \(bind: job.attemptToken) AND state = 'running' RETURNING id
            """).all()
        return !rows.isEmpty
    }

    /// How many jobs of `extractors` (nil: of every extractor) could be claimed now: the
    /// autoscaler's backlog, and the upload path's high-water check.
    public func ready(extractors: [String]?, now: Date = Date()) async throws -> Int {
        if extractors?.isEmpty == true { return 0 }
        let only = extractors.map { SQLQueryString("AND extractor_id IN (\(binds: $0))") } ?? SQLQueryString("")
        let row = try await sql.raw("""
            SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'failed') AND run_after <= \(bind: now) \(only)
            """).first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }

    /// A job that reached an end state, for the metrics.
    public struct Finished: Sendable, Equatable {
        public var id: UUID
        public var extractorID: String
        public var state: Job.State
        public var finishedAt: Date
        /// Run time of the last attempt (claim to end), when known.
        public var duration: TimeInterval?
    }

    /// Jobs that ended after `since` (oldest first, at most `limit`).
    public func finished(since: Date, limit: Int = 10_000) async throws -> [Finished] {
        let rows = try await sql.raw("""
            SELECT id, extractor_id, state, finished_at, claimed_at FROM jobs
            WHERE finished_at > \(bind: since) AND state IN ('succeeded', 'dead') ORDER BY finished_at LIMIT \(bind: limit)
            """).all()
        return try rows.map { row in
            let finished = try row.decode(column: "finished_at", as: Date.self)
            let started = try row.decode(column: "claimed_at", as: Date?.self)
            return Finished(id: try row.decode(column: "id", as: UUID.self), extractorID: try row.decode(column: "extractor_id", as: String.self),
                            state: Job.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .dead, finishedAt: finished,
                            duration: started.map { max(0, finished.timeIntervalSince($0)) })
        }
    }

    /// Puts a dead job back in the queue with a fresh attempt budget (administrators), whether or
    /// not its study still subscribes to it: the administrator named it.
    public func requeue(_ id: UUID, now: Date = Date()) async throws -> Bool {
        try await requeueDead(matching: " AND id = \(bind: id)", now: now).isEmpty == false
    }

    /// Puts every dead job of `extractor` in `studyID` back in the queue with a fresh attempt budget,
    /// in one statement (administrators, say after a fixed extractor is deployed); nil matches
    /// any. Only jobs the study still subscribes to (same extractor, version and parameters) go
    /// back: an unsubscribed analysis stays unsubscribed. Answers how many went back per
    /// extractor, so that their pools can be woken.
    public func requeueDead(extractor: String? = nil, studyID: UUID? = nil, now: Date = Date()) async throws -> [String: Int] {
        var filter = SQLQueryString("""
             AND EXISTS (SELECT 1 FROM study_extractors s WHERE s.study_id = jobs.study_id AND s.extractor_id = jobs.extractor_id
                 AND s.extractor_version = jobs.extractor_version AND s.parameter_hash = jobs.parameter_hash)
            """)
        if let extractor { filter += " AND extractor_id = \(bind: extractor)" }
        if let studyID { filter += " AND study_id = \(bind: studyID)" }
        var counts: [String: Int] = [:]
        for extractor in try await requeueDead(matching: filter, now: now) { counts[extractor, default: 0] += 1 }
        return counts
    }

    /// Requeues the dead jobs that `filter` (`AND …` conditions) matches; their extractors.
    private func requeueDead(matching filter: SQLQueryString, now: Date) async throws -> [String] {
        try await sql.raw("""
            UPDATE jobs SET state = 'queued', attempts = 0, run_after = \(bind: now), last_error = NULL,
                finished_at = NULL, attempt_token = NULL, updated_at = \(bind: now)
            WHERE state = 'dead'\(filter) RETURNING extractor_id
            """).all().map { try $0.decode(column: "extractor_id", as: String.self) }
    }

    /// Per extractor: jobs by state and the age of the oldest runnable one.
    public struct Depth: Sendable, Equatable {
        public var extractorID: String
        public var counts: [String: Int]
        public var oldestQueuedAge: TimeInterval?
    }

    public func depth(now: Date = Date()) async throws -> [Depth] {
        let rows = try await sql.raw("SELECT extractor_id, state, COUNT(*) AS n, MIN(created_at) AS oldest FROM jobs GROUP BY extractor_id, state").all()
        var byExtractor: [String: Depth] = [:]
        for row in rows {
            let id = try row.decode(column: "extractor_id", as: String.self)
            let state = try row.decode(column: "state", as: String.self)
            let n = try row.decode(column: "n", as: Int.self)
            var entry = byExtractor[id] ?? Depth(extractorID: id, counts: [:], oldestQueuedAge: nil)
            entry.counts[state] = n
            if state == "queued" || state == "failed", let oldest = try? row.decode(column: "oldest", as: Date.self) {
                let age = now.timeIntervalSince(oldest)
                entry.oldestQueuedAge = max(entry.oldestQueuedAge ?? 0, age)
            }
            byExtractor[id] = entry
        }
        return byExtractor.values.sorted { $0.extractorID < $1.extractorID }
    }
}
