import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import Foundation
import KaryonAnalysis
import KaryonPipeline
import KaryonStore
import SQLKit
import Vapor

/// What the running server shares with in-process workers.
public struct ServerParts: Sendable {
    public let blobs: any BlobStore
    let metrics: MetricsExport
    let jobSignal: JobSignal
    /// Leases and retries, as configured.
    let queuePolicy: QueuePolicy
    /// PostgreSQL's URL (workers listen for job notifications on it); nil on SQLite.
    let databaseURL: String?
    /// The SQLite file (worker slots open direct connections to it); nil on PostgreSQL.
    let sqlitePath: String?
}

/// Assembles the Karyon server on `app`: database (SQLite under the data directory, or
/// PostgreSQL from `KARYON_DATABASE_URL`), migrations, the encrypted blob store, token keys,
/// middleware and routes. The one place where the service's parts meet.
///
/// - Parameters:
///   - blobs: the blob store; the default is the encrypted store under the data directory.
///   - registry: the built-in extractors.
@discardableResult
public func configure(_ app: Application, configuration: ServerConfiguration, blobs: (any BlobStore)? = nil,
                      registry: ExtractorRegistry = .standard) async throws -> ServerParts {
    let fm = FileManager.default
    try fm.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])

    try await DatabaseSetup.use(configuration, on: app)
    try await DatabaseSetup.checkpointInBackground(configuration, on: app)
    app.migrations.add(StoreMigrations.all)
    try await app.autoMigrate()

    let store: any BlobStore
    if let blobs {
        store = blobs
    } else {
        store = try EncryptedBlobStore.open(directory: configuration.blobDirectory, keyFile: configuration.keyFile)
    }
    try await ExtractorController.sync(registry, on: app.db)
    _ = try await BlobSweeper.collectOrphans(store: store, db: app.db, logger: app.logger)

    let keyFile = try SigningKeyFile.loadOrCreate(path: configuration.jwtKeyFile)
    let audit = Audit(writer: AuditWriter(database: app.db))
    let context = AppContext(
        configuration: configuration, blobs: store, registry: registry,
        accessTokens: await AccessTokens(file: keyFile, lifetime: configuration.accessTokenLifetime),
        passwords: try Passwords(), audit: audit, access: Access(audit: audit),
        uploads: UploadGate(perUser: configuration.maxConcurrentUploadsPerUser, total: configuration.maxConcurrentUploads,
                           highWater: configuration.queueHighWater), catalog: RouteCatalog(),
        metrics: MetricsExport(database: app.db), jobSignal: JobSignal(), subscriptions: Subscriptions(registry: registry),
        directSQLite: try DatabaseSetup.directConnections(configuration, on: app))

    app.http.server.configuration.hostname = configuration.host
    app.http.server.configuration.port = configuration.port
    app.routes.defaultMaxBodySize = ByteCount(integerLiteral: configuration.jsonBodyLimitBytes)
    app.middleware = Middlewares()
    app.middleware.use(ResponseHeadersMiddleware())
    app.middleware.use(APIErrorMiddleware())
    routes(app, context: context)
    return ServerParts(blobs: store, metrics: context.metrics, jobSignal: context.jobSignal,
                       queuePolicy: QueuePolicy(lease: configuration.jobLease), databaseURL: configuration.databaseURL,
                       sqlitePath: configuration.databaseURL == nil ? configuration.sqlitePath : nil)
}

/// Every route, public first, then those behind bearer authentication.
func routes(_ app: Application, context: AppContext) {
    let authenticated = app.grouped(BearerAuthenticator(accessTokens: context.accessTokens))
    HealthController(context: context).register(app)
    AuthController(context: context).register(app, authenticated: authenticated)
    TokenController(context: context).register(authenticated)
    ProjectController(context: context).register(authenticated)
    PatientController(context: context).register(authenticated)
    StudyController(context: context).register(authenticated)
    ImageController(context: context).register(authenticated)
    ResultController(context: context).register(authenticated)
    ExtractorController(context: context).register(authenticated)
    NotificationController(context: context).register(authenticated)
    AdminController(context: context).register(authenticated)
    QueueController(context: context).register(authenticated)
    SubscriptionController(context: context).register(authenticated)
    WorkerController(context: context).register(authenticated)
    MetricsController(context: context).register(app)
}

enum DatabaseSetup {
    /// How long an SQLite statement waits for another connection's write lock.
    static let sqliteBusyTimeout: TimeInterval = 30

    /// Points Fluent at PostgreSQL when a URL is configured, else at SQLite in the data
    /// directory (WAL journal, foreign keys on, a sleeping busy handler).
    static func use(_ configuration: ServerConfiguration, on app: Application) async throws {
        if let url = configuration.databaseURL {
            app.databases.use(try .postgres(url: url), as: .psql)
        } else {
            app.databases.use(.sqlite(.file(configuration.sqlitePath)), as: .sqlite)
            if let sql = app.db as? any SQLDatabase {
                try await sql.raw("PRAGMA journal_mode=WAL").run()
            }
            // The driver's busy handler retries a locked database in a tight loop, burning a core
            // per waiting connection while another process (a worker) holds the write lock.
            // SQLite's own handler sleeps between retries; install it on each pooled connection
            // (one per event loop). A lock held past the timeout is an error, not a hang.
            for loop in app.eventLoopGroup.makeIterator() {
                let db = app.databases.database(.sqlite, logger: app.logger, on: loop)
                try await (db as? any SQLDatabase)?.raw("PRAGMA busy_timeout = \(unsafeRaw: String(Int(sqliteBusyTimeout * 1000)))").run()
            }
        }
    }

    /// Direct connections to the SQLite file for the server's upload transactions (they sync the
    /// log on commit and leave checkpoints to the ``WALCheckpointer``, as the pooled ones do),
    /// closed at shutdown; nil on PostgreSQL.
    static func directConnections(_ configuration: ServerConfiguration, on app: Application) throws -> DirectSQLitePool? {
        guard configuration.databaseURL == nil else { return nil }
        let (path, dialect) = (configuration.sqlitePath, try app.db.sql(for: "direct connections"))
        let pool = DirectSQLitePool {
            try DirectSQLite(path: path, dialect: dialect, busyTimeout: sqliteBusyTimeout, autoCheckpoint: false)
        }
        app.lifecycle.use(DirectSQLiteShutdown(pool: pool))
        return pool
    }

    /// The server's SQLite connections leave checkpoints to a ``WALCheckpointer`` (started with the
    /// application), never to whichever request's commit fills the log. Worker processes keep
    /// SQLite's automatic checkpoints. No-op on PostgreSQL.
    static func checkpointInBackground(_ configuration: ServerConfiguration, on app: Application) async throws {
        guard configuration.databaseURL == nil else { return }
        for loop in app.eventLoopGroup.makeIterator() {
            let db = app.databases.database(.sqlite, logger: app.logger, on: loop)
            try await (db as? any SQLDatabase)?.raw("PRAGMA wal_autocheckpoint = 0").run()
        }
        app.lifecycle.use(WALCheckpointer(path: configuration.sqlitePath, busyTimeout: sqliteBusyTimeout, logger: app.logger))
    }
}

/// Closes the direct SQLite connections when the application stops.
struct DirectSQLiteShutdown: LifecycleHandler {
    let pool: DirectSQLitePool

    func shutdown(_ application: Application) { pool.close() }
}

/// Adds `X-Request-Id` to every response and keeps API answers out of caches (they carry
/// health data).
struct ResponseHeadersMiddleware: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response: Response
        do {
            response = try await next.respond(to: request)
        } catch {
            response = APIErrorMiddleware.response(for: error, request: request)
        }
        response.headers.replaceOrAdd(name: "X-Request-Id", value: request.id)
        response.headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        if !response.headers.contains(name: .cacheControl) {
            response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        }
        return response
    }
}
