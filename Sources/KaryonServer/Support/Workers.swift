import Fluent
import Foundation
import KaryonAnalysis
import KaryonPipeline
import KaryonStore
import Logging
import Synchronization
import FluentPostgresDriver
import SQLKit
import Vapor

/// Builds the worker pools of a process — `karyon worker`, or the in-process workers of tests and
/// `karyon up --in-process-workers` — one pool per extractor, with job outcomes turned into
/// dashboard notifications.
enum WorkerPools {
    static func make(database: any Database, blobs: any BlobStore, registry: ExtractorRegistry, extractors: [String],
                     scaling: Scaling, policy: QueuePolicy = .init(), sqlitePath: String?, checkpoints: Bool = true,
                     idlePoll: TimeInterval = 0.5, logger: Logger) -> [WorkerPool] {
        let queue = JobQueue(database: database, policy: policy, directSQLitePath: sqlitePath, directCheckpoints: checkpoints)
        let runner = JobRunner(database: database, blobs: blobs, registry: registry)
        let notifier = StudyNotifier(database: database)
        return extractors.enumerated().map { index, id in
            WorkerPool(queue: queue, runner: runner, settings: .init(extractor: id, scaling: scaling, idlePoll: idlePoll, reaps: index == 0),
                       logger: logger, events: { await notifier.handle($0) })
        }
    }
}

/// In-process analysis workers: pools started after boot and stopped (running jobs finish) at
/// shutdown.
struct InProcessWorkers: LifecycleHandler {
    let pools: [WorkerPool]
    let wakeups: JobWakeups

    init(app: Application, parts: ServerParts, registry: ExtractorRegistry, scaling: Scaling) {
        pools = WorkerPools.make(database: app.db, blobs: parts.blobs, registry: registry, extractors: registry.descriptors.map(\.id),
                                 scaling: scaling, policy: parts.queuePolicy, sqlitePath: parts.sqlitePath,
                                 checkpoints: false,  // the server's WALCheckpointer does it
                                 logger: app.logger)
        wakeups = JobWakeups(databaseURL: parts.databaseURL, pools: pools, logger: app.logger)
    }

    func didBootAsync(_ application: Application) async throws {
        for pool in pools { await pool.start() }
        wakeups.start()
    }

    /// Rings the pools of `extractors` (jobs of theirs were just enqueued).
    func wake(_ extractors: Set<String>) {
        for pool in pools where extractors.contains(pool.settings.extractor) { pool.doorbell.ring() }
    }

    func shutdownAsync(_ application: Application) async {
        wakeups.stop()
        for pool in pools { await pool.stop() }
    }
}

/// Wakes idle pools as soon as a job of their extractor becomes runnable. On PostgreSQL a
/// trigger sends `NOTIFY karyon_jobs, '<extractor>'` (see `CreateWorkerPools`); this listens on
/// a connection of its own and reconnects after failures. On SQLite there is nothing to listen
/// to: the server rings the pools of its own process, and `karyon up`'s worker processes through
/// their wake pipes (``WakePipe``); pools still poll, rarely, for jobs that become due on their
/// own (a reaped lease, a retry of a job another process failed; a pool rings itself for its own
/// retries).
final class JobWakeups: Sendable {
    let databaseURL: String?
    let pools: [String: WorkerPool]
    let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(databaseURL: String?, pools: [WorkerPool], logger: Logger) {
        self.databaseURL = databaseURL
        self.pools = Dictionary(pools.map { ($0.settings.extractor, $0) }, uniquingKeysWith: { a, _ in a })
        self.logger = logger
    }

    func start() {
        guard let url = databaseURL, !pools.isEmpty else { return }
        let listener = Task { await self.listen(url: url) }
        task.withLock { $0 = listener }
    }

    func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
    }

    private func listen(url: String) async {
        var delay: Double = 0.5
        while !Task.isCancelled {
            do {
                let configuration = try SQLPostgresConfiguration(url: url).coreConfiguration
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
                delay = 0.5
                do {
                    try await connection.listen(on: "karyon_jobs") { notifications in
                        // Whatever was enqueued while (re)connecting is found by the next claim.
                        for pool in self.pools.values { pool.doorbell.ring() }
                        for try await note in notifications {
                            self.pools[note.payload]?.doorbell.ring()
                        }
                    }
                    try? await connection.close()
                } catch {
                    try? await connection.close()
                    throw error
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("job notifications unavailable; polling until reconnected", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 30)
        }
    }
}

/// What follows a finished attempt that ran outside Karyon's pools (an external worker over
/// HTTP): the study creator's notifications, as for in-process pools. (The metrics read job
/// outcomes from the database, wherever the job ran.)
struct JobOutcomes: Sendable {
    let notifier: StudyNotifier

    init(database: any Database) {
        self.notifier = StudyNotifier(database: database)
    }

    @Sendable func record(_ event: WorkerPool.JobEvent) async {
        await notifier.handle(event)
    }
}

/// Turns job outcomes into notifications for the study's creator:
/// - when the study's last open job ends, however it ends (a result, a failure out of attempts,
///   a lease that expired on the last attempt): "analysis finished" or, with dead jobs,
///   "analysis partial";
/// - dead letters, gathered per study and extractor: the first makes a `job.failed`
///   notification, later ones update it (the count, the last error, the time) until the user
///   reads it; after that, the next dead letter makes a new one. A batch of 2,500 images that an
///   extractor cannot read is one notification, not 2,500.
struct StudyNotifier: Sendable {
    let database: any Database

    func handle(_ event: WorkerPool.JobEvent) async {
        // A lost notification must not fail the job; the queue already holds the truth.
        switch event {
        case .succeeded(let job, _):
            try? await studyMayHaveFinished(job.studyID)
        case .failed(let job, let state, let message):
            guard state == .dead else { return }
            try? await deadLetter(studyID: job.studyID, extractorID: job.extractorID, attempts: job.attempt, message: message)
            try? await studyMayHaveFinished(job.studyID)
        case .expired(let letter):
            try? await deadLetter(studyID: letter.studyID, extractorID: letter.extractorID, attempts: letter.attempts,
                                  message: JobQueue.expiredOnLastAttempt)
            try? await studyMayHaveFinished(letter.studyID)
        }
    }

    /// Announces the study's end when none of its jobs is open any more (and it has any). Called
    /// after every job that ends, and where open jobs go without ending: an unsubscription, a
    /// deleted image.
    func studyMayHaveFinished(_ studyID: UUID) async throws {
        // Runs after every job: one index probe (jobs_study_state), not a count of the study's
        // open jobs.
        let open = try await database.sql(for: "notifications").raw("""
            SELECT 1 AS open FROM jobs WHERE study_id = \(bind: studyID) AND state IN ('queued', 'running', 'failed') LIMIT 1
            """).first()
        guard open == nil, let study = try await Study.find(studyID, on: database) else { return }
        // Workers finishing a study's last jobs at the same moment may all get here: the key
        // (study and its job count) keeps one notification; more uploads, a new key. A requeue
        // that ends the study again rewrites it while it is unread.
        let total = try await Job.query(on: database).filter(\.$studyID == studyID).count()
        guard total > 0 else { return }
        let dead = try await Job.query(on: database).filter(\.$studyID == studyID).filter(\.$state == Job.State.dead.rawValue).count()
        let message = dead == 0 ? "Analysis of study “\(study.title)” finished." :
            "Analysis of study “\(study.title)” finished; \(dead) job(s) failed."
        try await upsertUnread(key: "study-finished:\(studyID.uuidString.lowercased()):\(total)",
                               kind: dead == 0 ? "analysis.finished" : "analysis.partial", message: message,
                               userID: study.createdBy, studyID: studyID)
    }

    /// Records a dead letter in the study's unread `job.failed` notification for the extractor,
    /// or makes one, saying how many of the extractor's jobs in the study are dead.
    private func deadLetter(studyID: UUID, extractorID: String, attempts: Int, message: String) async throws {
        guard let study = try await Study.find(studyID, on: database) else { return }
        let key = "dead-letters:\(studyID.uuidString.lowercased()):\(extractorID)"
        // Slots dead-lettering at once may count before one another's writes land; each counts
        // again after writing, so the last writer leaves the final count (bounded rounds).
        var written: Int?
        for _ in 0..<3 {
            let dead = try await Job.query(on: database).filter(\.$studyID == studyID).filter(\.$extractorID == extractorID)
                .filter(\.$state == Job.State.dead.rawValue).count()
            if dead == written { return }
            let text = dead <= 1
                ? "\(extractorID) failed on an image of “\(study.title)” after \(attempts) attempt(s): \(message)"
                : "\(extractorID) failed on \(dead) images of “\(study.title)”; the last after \(attempts) attempt(s): \(message)"
            try await upsertUnread(key: key, kind: "job.failed", message: text, userID: study.createdBy, studyID: studyID)
            written = dead
        }
    }

    /// Writes `message` into the unread notification that holds `key` (reading one releases its
    /// key, see NotificationController), or makes one. Two processes doing so at once end with one
    /// row: the loser of the insert updates the winner's.
    private func upsertUnread(key: String, kind: String, message: String, userID: UUID, studyID: UUID) async throws {
        let sql = try database.sql(for: "notifications")
        let now = Date()
        for _ in 0..<2 {
            let updated = try await sql.raw("""
                UPDATE notifications SET kind = \(bind: kind), message = \(bind: message), created_at = \(bind: now)
                WHERE dedupe_key = \(bind: key) AND read_at IS NULL RETURNING id
                """).all()
            if !updated.isEmpty { return }
            let note = UserNotification(userID: userID, kind: kind, message: message, resourceType: "study", resourceID: studyID, createdAt: now)
            note.dedupeKey = key
            do {
                try await note.create(on: database)
                return
            } catch let error as any DatabaseError where error.isConstraintFailure {
                continue
            }
        }
    }
}
