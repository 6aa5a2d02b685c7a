import KaryonAnalysis
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
}
