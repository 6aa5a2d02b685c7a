import Fluent
import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonPipeline
import KaryonStore
import Logging
import NIOCore
import NIOPosix
import Vapor

/// Entry points for the `karyon` program: run the server, migrate, manage accounts.
public enum Runtime {
    /// Makes the server's event loops Swift Concurrency's global executor, so an async route
    /// handler runs on the loop that owns its connection instead of hopping to a separate
    /// thread pool and back for every request and query (fewer thread wake-ups, lower latency).
    /// CPU-heavy work never runs there: analysis goes to threads of its own
    /// (``JobRunner/offload(_:)``), password hashing and blob crypto to the blocking pool.
    /// Call once, from the main thread, before anything async starts; returns whether it took.
    @MainActor @discardableResult
    public static func runConcurrencyOnEventLoops() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// Runs the HTTP server until SIGINT/SIGTERM. `onReady` runs after start-up (migrations,
    /// orphan collection, key loading) and before serving.
    /// - Parameter workers: where analysis runs: nowhere (the API alone, as `karyon serve`), in
    ///   this process, or in supervised worker processes (`karyon up`).
    public static func serve(_ configuration: ServerConfiguration, workers: WorkerMode = .none,
                             onReady: (@Sendable (Application) async throws -> Void)? = nil) async throws {
        umask(0o077)  // the database, its WAL and everything else under the data directory: owner only
        Allocator.keepImageBuffers()  // uploads (and in-process analysis) reuse image-sized buffers
        var env = Environment(name: "production", arguments: ["karyon"])
        try LoggingSystem.bootstrap(from: &env)
        let app = try await Application.make(env)
        do {
            let parts = try await configure(app, configuration: configuration)
            app.lifecycle.use(LeaseReaper(queue: JobQueue(database: app.db, policy: parts.queuePolicy),
                                          interval: configuration.reapInterval, signal: parts.jobSignal, logger: app.logger))
            switch workers {
            case .none:
                break
            case .inProcess(let scaling):
                JobRunner.configureProcess()
                let workers = InProcessWorkers(app: app, parts: parts, registry: .standard, scaling: scaling)
                await parts.jobSignal.addListener { workers.wake($0) }
                app.lifecycle.use(workers)
            case .processes(let scaling, let grace):
                let supervisor = supervisor(configuration, scaling: scaling, grace: grace, logger: app.logger)
                await parts.jobSignal.addListener { supervisor.wake($0) }
                app.lifecycle.use(supervisor)
            }
            try await onReady?(app)
            try await app.execute()
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
    }

    /// One supervised worker process per built-in extractor, sharing this server's database,
    /// data directory and key file.
    static func supervisor(_ configuration: ServerConfiguration, scaling: Scaling, grace: TimeInterval, logger: Logger) -> WorkerSupervisor {
        var environment = ProcessInfo.processInfo.environment
        environment["KARYON_DATA_DIR"] = configuration.dataDirectory
        environment["KARYON_KEY_FILE"] = configuration.keyFile
        environment["KARYON_DATABASE_URL"] = configuration.databaseURL ?? ""
        let children = ExtractorRegistry.standard.descriptors.map { d in
            WorkerSupervisor.Child(name: d.id, arguments: ["worker", "--extractors", d.id, "--min", String(scaling.min), "--max", String(scaling.max),
                                                           "--grace", String(grace)])
        }
        return WorkerSupervisor(executable: WorkerSupervisor.currentExecutable, children: children, environment: environment,
                                grace: grace, logger: logger)
    }

    /// Applies every pending migration and returns.
    public static func migrate(_ configuration: ServerConfiguration) async throws {
        try await withDatabase(configuration) { _ in }
    }

    /// Creates an account from the command line (the first administrator, typically).
    /// - Throws: ``ConfigurationError`` with a message for a taken e-mail or a weak password.
    public static func createUser(_ configuration: ServerConfiguration, email: String, name: String?, password: String, admin: Bool) async throws {
        let address: String
        let checked: String
        do {
            address = try Check.email(email)
            checked = try Check.password(password)
        } catch let error as APIError {
            throw ConfigurationError(error.message)
        }
        try await withDatabase(configuration) { app in
            if try await User.query(on: app.db).filter(\.$email == address).first() != nil {
                throw ConfigurationError("An account with the e-mail \(address) already exists.")
            }
            let hash = try await Passwords().hash(checked, on: app.threadPool)
            let user = User(email: address, name: name ?? address, passwordHash: hash, role: admin ? .admin : .researcher)
            try await user.create(on: app.db)
            try await AuditEvent(actorID: nil, tokenID: nil, action: "user.create.cli", resourceType: "user",
                                 resourceID: user.id?.uuidString.lowercased(), outcome: .success, requestID: nil).create(on: app.db)
        }
    }

    /// How many accounts exist (for `karyon up`'s first-run hint).
    public static func userCount(_ configuration: ServerConfiguration) async throws -> Int {
        var count = 0
        try await withDatabase(configuration) { app in count = try await User.query(on: app.db).count() }
        return count
    }

    private static func withDatabase(_ configuration: ServerConfiguration, _ body: (Application) async throws -> Void) async throws {
        umask(0o077)
        let app = try await Application.make(Environment(name: "production", arguments: ["karyon"]))
        app.logger.logLevel = .warning
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try await DatabaseSetup.use(configuration, on: app)
            app.migrations.add(StoreMigrations.all)
            try await app.autoMigrate()
            try await body(app)
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
    }
}
