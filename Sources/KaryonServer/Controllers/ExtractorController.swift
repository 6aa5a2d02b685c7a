import Fluent
import KaryonAnalysis
import KaryonStore
import Vapor

/// The registered extractors (algorithms) and their parameter schemas.
struct ExtractorController: Sendable {
    let context: AppContext

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .GET, path: "/api/v1/extractors", summary: "Registered extractors with parameter schemas",
                                   tag: "extractors", response: .array(.ref("Extractor"))), on: routes, use: list)
        catalog.register(Operation(method: .GET, path: "/api/v1/extractors/{name}", summary: "One extractor", tag: "extractors",
                                   response: .ref("Extractor"), errors: [404]), on: routes, use: show)
    }

    @Sendable func list(_ req: Request) async throws -> Response {
        let rows = try await Algorithm.query(on: req.db).sort(\.$id).all()
        return try JSONResponse.make(rows.map(Self.representation))
    }

    @Sendable func show(_ req: Request) async throws -> Response {
        guard let name = req.parameters.get("name"), let row = try await Algorithm.find(name, on: req.db) else {
            throw APIError.notFound("extractor")
        }
        return try JSONResponse.make(Self.representation(row))
    }

    static func representation(_ a: Algorithm) -> [String: Any] {
        var object = (JSONResponse.embedded(a.descriptionJSON) as? [String: Any]) ?? [:]
        object["id"] = a.id
        object["version"] = a.version
        object["origin"] = a.origin
        return object
    }

    /// Records the built-in extractors in the `algorithms` table (run at start-up), so every
    /// result can be traced to the algorithm and schema that made it.
    static func sync(_ registry: ExtractorRegistry, on db: any Database) async throws {
        for d in registry.descriptors {
            if let row = try await Algorithm.find(d.id, on: db) {
                guard row.version != d.version || row.descriptionJSON != d.jsonText else { continue }
                row.version = d.version
                row.summary = d.summary
                row.descriptionJSON = d.jsonText
                row.origin = "builtin"
                row.updatedAt = Date()
                try await row.save(on: db)
            } else {
                try await Algorithm(id: d.id, version: d.version, summary: d.summary, descriptionJSON: d.jsonText, origin: "builtin").create(on: db)
            }
        }
    }
}
