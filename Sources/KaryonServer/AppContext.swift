import FluentKit
import KaryonAnalysis
import KaryonPipeline
import KaryonStore

/// The services controllers need, assembled once in ``configure(_:context:)`` and passed down
/// through initialisers (no service locator).
struct AppContext: Sendable {
    let configuration: ServerConfiguration
    let blobs: any BlobStore
    let registry: ExtractorRegistry
    let accessTokens: AccessTokens
    let passwords: Passwords
    let audit: Audit
    let access: Access
    let uploads: UploadGate
    let catalog: RouteCatalog
    let metrics: MetricsExport
    /// Wakes long-polling external workers when jobs are inserted.
    let jobSignal: JobSignal
    /// Resolves and stores study subscriptions (built-in and external extractors).
    let subscriptions: Subscriptions
    /// Direct connections to the embedded database for uploads' transactions; nil on PostgreSQL.
    let directSQLite: DirectSQLitePool?

    /// The queue on `db` with the configured lease.
    func queue(on db: any Database) -> JobQueue {
        JobQueue(database: db, policy: QueuePolicy(lease: configuration.jobLease))
    }
}
