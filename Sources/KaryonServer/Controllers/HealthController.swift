import Fluent
import KaryonStore
import SQLKit
import Vapor

/// Liveness, readiness and the OpenAPI document; no authentication.
struct HealthController: Sendable {
    let context: AppContext

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .GET, path: "/healthz", summary: "Liveness: the process answers", tag: "operations",
                                   authenticated: false, response: .ref("Health")), on: routes, use: health)
        catalog.register(Operation(method: .GET, path: "/readyz", summary: "Readiness: database and blob store usable", tag: "operations",
                                   authenticated: false, response: .ref("Health"), errors: [503]), on: routes, use: ready)
        catalog.register(Operation(method: .GET, path: "/openapi.json", summary: "This API's OpenAPI 3.1 document", tag: "operations",
                                   authenticated: false, response: .any), on: routes, use: openAPI)
    }

    @Sendable func health(_ req: Request) async throws -> Response {
        try JSONResponse.make(["status": "ok"])
    }

    @Sendable func ready(_ req: Request) async throws -> Response {
        var checks: [String: String] = [:]
        do {
            _ = try await Setting.query(on: req.db).count()
            checks["database"] = "ok"
        } catch {
            checks["database"] = "unavailable"
        }
        checks["blob_store"] = FileManager.default.isWritableFile(atPath: context.configuration.blobDirectory) ? "ok" : "not writable"
        let ok = checks.values.allSatisfy { $0 == "ok" }
        return try JSONResponse.make(["status": ok ? "ok" : "unavailable", "checks": checks], status: ok ? .ok : .serviceUnavailable)
    }

    @Sendable func openAPI(_ req: Request) async throws -> Response {
        try JSONResponse.make(context.catalog.document(components: Components.all))
    }
}
