import Fluent
import Foundation
import KaryonPipeline
import KaryonStore
import Logging
import Vapor

/// Entry points for the `karyon` program: run the server, migrate, manage accounts.
public enum Runtime {
    /// Runs the HTTP server until SIGINT/SIGTERM. `onReady` runs after start-up (migrations,
    /// orphan collection, key loading) and before serving.
    /// - Parameter workers: analysis jobs each extractor runs at once in this process (0: none,
    ///   the API alone, as `karyon serve`).
    public static func serve(_ configuration: ServerConfiguration, workers: Int = 0,
                             onReady: (@Sendable (Application) async throws -> Void)? = nil) async throws {
        umask(0o077)  // the database, its WAL and everything else under the data directory: owner only
        var env = Environment(name: "production", arguments: ["karyon"])
        try LoggingSystem.bootstrap(from: &env)
        let app = try await Application.make(env)
        do {
            let parts = try await configure(app, configuration: configuration)
            app.lifecycle.use(LeaseReaper(queue: JobQueue(database: app.db, policy: parts.queuePolicy),
                                          interval: configuration.reapInterval, logger: app.logger))
            if workers > 0 {
                app.lifecycle.use(InProcessWorkers(app: app, parts: parts, registry: .standard, concurrency: workers))
            }
            try await onReady?(app)
            try await app.execute()
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
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
