import Fluent
import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonPipeline
import KaryonStore
import Logging
import Synchronization
import Vapor

/// How `karyon up` runs analysis next to the API.
public enum WorkerMode: Sendable {
    /// The API alone (`karyon serve`).
    case none
    /// Pools inside the server process (tests; small installations that want one process).
    case inProcess(Scaling)
    /// One supervised `karyon worker` process per extractor, restarted when it dies.
    case processes(Scaling, grace: TimeInterval)
}

/// What a `karyon worker` process runs.
public struct WorkerOptions: Sendable {
    /// Extractor ids; nil means every built-in extractor.
    public var extractors: [String]?
    public var scaling: Scaling
    /// How long SIGTERM waits for running jobs before releasing them.
    public var grace: TimeInterval
    public var idlePoll: TimeInterval
    /// Whether standard input is `karyon up`'s wake pipe (``WakePipe``).
    public var wakePipe: Bool

    public init(extractors: [String]? = nil, scaling: Scaling = .init(min: 1, max: System.coreCount), grace: TimeInterval = 30,
                idlePoll: TimeInterval = 0.5, wakePipe: Bool = false) {
        self.extractors = extractors
        self.scaling = scaling
        self.grace = grace
        self.idlePoll = idlePoll
        self.wakePipe = wakePipe
    }

    /// The idle poll between claims when the queue is empty, for a worker that `karyon up` wakes
    /// through its pipe whenever it enqueues jobs: the poll then only finds jobs that became due
    /// on their own (a reaped lease, a retry of a job another process failed). An idle
    /// `karyon up` on SQLite used 2.3% of a core with every pool polling twice a second.
    public static let wokenIdlePoll: TimeInterval = 5

    /// The wake pipe (`KARYON_WAKE_PIPE=stdin`, set by `karyon up`) and the idle poll
    /// (`KARYON_WORKER_POLL_MS`, which wins) from the environment; the lease comes from the server
    /// configuration (`KARYON_JOB_LEASE_SECONDS`), shared with the API's reaper.
    public mutating func apply(environment: [String: String]) throws {
        if environment["KARYON_WAKE_PIPE"] == "stdin" {
            wakePipe = true
            idlePoll = Self.wokenIdlePoll
        }
        if let raw = environment["KARYON_WORKER_POLL_MS"], !raw.isEmpty {
            guard let v = Int(raw), (10...60_000).contains(v) else { throw ConfigurationError("KARYON_WORKER_POLL_MS must be 10 to 60000, got '\(raw)'") }
            idlePoll = Double(v) / 1000
        }
    }
}

extension Runtime {
    /// Runs worker pools against the configured database until SIGTERM/SIGINT (or, when started
    /// by `karyon up`, until the supervisor goes away), then stops gracefully: no new claims,
    /// running jobs get `grace` seconds, the rest are released. Does not migrate: the schema
    /// must be current (the server or `karyon migrate` applies it), so that workers on other
    /// machines never race a migration.
    public static func work(_ configuration: ServerConfiguration, options: WorkerOptions) async throws {
        let stop = StopSignal(supervisor: ProcessInfo.processInfo.environment["KARYON_SUPERVISOR_PID"].flatMap { pid_t($0) })
        umask(0o077)
        JobRunner.configureProcess()
        var env = Environment(name: "production", arguments: ["karyon"])
        try LoggingSystem.bootstrap(from: &env)
        let app = try await Application.make(env)
        do {
            try await run(app, configuration, options, stop: stop)
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
    }

    private static func run(_ app: Application, _ configuration: ServerConfiguration, _ options: WorkerOptions, stop: StopSignal) async throws {
        let registry = ExtractorRegistry.standard
        let known = registry.descriptors.map(\.id)
        let extractors = options.extractors ?? known
        if let unknown = extractors.first(where: { !known.contains($0) }) {
            throw ConfigurationError("unknown extractor '\(unknown)' (built in: \(known.joined(separator: ", ")))")
        }
        guard FileManager.default.fileExists(atPath: configuration.dataDirectory) || configuration.databaseURL != nil else {
            throw ConfigurationError("no Karyon data directory at \(configuration.dataDirectory); start the server (karyon up) or run karyon migrate first")
        }
        try await DatabaseSetup.use(configuration, on: app)
        try await requireCurrentSchema(app.db)
        guard FileManager.default.fileExists(atPath: configuration.keyFile) else {
            throw ConfigurationError("no key file at \(configuration.keyFile): workers read the blob store with the server's keys (set KARYON_KEY_FILE)")
        }
        let blobs = try EncryptedBlobStore.open(directory: configuration.blobDirectory, keyFile: configuration.keyFile)
        let pools = WorkerPools.make(database: app.db, blobs: blobs, registry: registry, extractors: extractors, scaling: options.scaling,
                                     policy: QueuePolicy(lease: configuration.jobLease),
                                     sqlitePath: configuration.databaseURL == nil ? configuration.sqlitePath : nil,
                                     idlePoll: options.idlePoll, logger: app.logger)
        let wakeups = JobWakeups(databaseURL: configuration.databaseURL, pools: pools, logger: app.logger)
        for pool in pools { await pool.start() }
        wakeups.start()
        if options.wakePipe { WakePipe.listen(pools: pools) }
        app.logger.notice("worker started", metadata: ["extractors": "\(extractors.joined(separator: ","))", "pid": "\(getpid())",
                                                         "min": "\(options.scaling.min)", "max": "\(options.scaling.max)"])
        let reason = await stop.wait()
        app.logger.notice("worker stopping", metadata: ["reason": "\(reason)", "grace": "\(options.grace)"])
        wakeups.stop()
        await withTaskGroup(of: Void.self) { group in
            for pool in pools { group.addTask { await pool.stop(grace: options.grace) } }
        }
        app.logger.notice("worker stopped")
    }

    /// Refuses to work on a database whose migrations are not all applied.
    static func requireCurrentSchema(_ db: any Database) async throws {
        let applied: Set<String>
        do {
            applied = Set(try await MigrationLog.query(on: db).all().map(\.name))
        } catch {
            throw ConfigurationError("the database has no Karyon schema; start the server (karyon up) or run karyon migrate first")
        }
        let missing = StoreMigrations.all.map(\.name).filter { !applied.contains($0) }
        guard missing.isEmpty else {
            throw ConfigurationError("the database schema is behind this karyon (\(missing.count) migration(s) pending); run karyon migrate first")
        }
    }
}

/// SIGTERM or SIGINT, or the supervising process disappearing (its pid is no longer our parent).
/// Installed first thing, so a signal that arrives while the worker is still starting is kept
/// and honoured once it runs, instead of killing it half-started.
final class StopSignal: Sendable {
    enum Reason: String { case sigterm = "SIGTERM", sigint = "SIGINT", supervisorGone = "supervisor gone" }

    private let state = Mutex<(reason: Reason?, waiter: CheckedContinuation<Reason, Never>?)>((nil, nil))

    init(supervisor: pid_t?) {
        let queue = DispatchQueue(label: "karyon.worker.signals")
        var sources: [any DispatchSourceProtocol] = []
        for (sig, reason) in [(SIGTERM, Reason.sigterm), (SIGINT, .sigint)] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [weak self] in self?.fire(reason) }
            source.resume()
            sources.append(source)
        }
        if let supervisor {
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now() + 1, repeating: 1)
            timer.setEventHandler { [weak self] in if getppid() != supervisor { self?.fire(.supervisorGone) } }
            timer.resume()
            sources.append(timer)
        }
        // The sources live as long as the process: a second signal during shutdown is ignored.
        Self.keepQueue.sync { Self.keep += sources }
    }

    private func fire(_ reason: Reason) {
        let waiter = state.withLock { s -> CheckedContinuation<Reason, Never>? in
            guard s.reason == nil else { return nil }
            s.reason = reason
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: reason)
    }

    /// Returns the first stop reason, at once if it already came.
    func wait() async -> Reason {
        await withCheckedContinuation { (continuation: CheckedContinuation<Reason, Never>) in
            let early = state.withLock { s -> Reason? in
                if let r = s.reason { return r }
                s.waiter = continuation
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }
    }

    private static let keepQueue = DispatchQueue(label: "karyon.worker.signal-sources")
    nonisolated(unsafe) private static var keep: [any DispatchSourceProtocol] = []
}
