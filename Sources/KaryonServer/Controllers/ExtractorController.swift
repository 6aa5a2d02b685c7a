import Fluent
import KaryonAnalysis
import KaryonStore
import Vapor

/// The registered extractors (algorithms) and their parameter schemas: the built-ins, and the
/// external ones that workers outside Karyon register over HTTP (`docs/external-workers.md`).
struct ExtractorController: Sendable {
    let context: AppContext

    /// An external extractor's declaration (``ExternalDescriptor``).
    struct RegisterBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case id, version, summary, references, parameters, columns }
        let id: String
        let version: String
        let summary: String
        let references: [String]?
        let parameters: [ParameterSpec.Declaration]?
        let columns: [String]
    }

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .GET, path: "/api/v1/extractors", summary: "Registered extractors with parameter schemas",
                                   tag: "extractors", response: .array(.ref("Extractor"))), on: routes, use: list)
        catalog.register(Operation(method: .POST, path: "/api/v1/extractors",
                                   summary: "Register (or, with a new version, update) an external extractor run by your workers",
                                   tag: "extractors", requestBody: .ref("ExtractorRegistration"), status: 201, response: .ref("Extractor"),
                                   errors: [403, 409, 422]), on: routes, use: registerExternal)
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

    /// Registers an external extractor for the caller, who becomes its owner: only their workers
    /// (and administrators') may claim its jobs. 201 when new; 200 when the owner registers a new
    /// version (or repeats the same declaration).
    @Sendable func registerExternal(_ req: Request) async throws -> Response {
        let me = try req.principal
        guard me.role == .admin || me.role == .researcher else {
            await context.audit.denied(req, "extractor.register", "extractor", nil)
            throw APIError.forbidden("Viewers may not register extractors; an administrator can give you the researcher role.")
        }
        let body = try JSONBody.decode(RegisterBody.self, from: req)
        let descriptor: ExternalDescriptor
        do {
            descriptor = try ExternalDescriptor(id: body.id, version: body.version, summary: body.summary, references: body.references ?? [],
                                                parameters: body.parameters ?? [], columns: body.columns)
        } catch let error as ExtractorError {
            throw APIError.unprocessable(error.message, code: error.code == .failed ? "invalid_extractor" : error.code.rawValue)
        }
        let taken = APIError(.conflict, "extractor_taken", "The extractor id '\(descriptor.id)' is taken (built in, or registered by another user); choose another id.")
        guard !context.registry.types.contains(where: { $0.descriptor.id == descriptor.id }) else {
            await context.audit.denied(req, "extractor.register", "extractor", descriptor.id)
            throw taken
        }
        let (description, columns) = (descriptor.jsonText, descriptor.columnsJSON)
        let result: (Algorithm, HTTPResponseStatus)
        do {
            result = try await req.db.transaction { db in
                guard let row = try await Algorithm.find(descriptor.id, on: db) else {
                    let row = Algorithm(id: descriptor.id, version: descriptor.version, summary: descriptor.summary, descriptionJSON: description,
                                        origin: Algorithm.Origin.external.rawValue, ownerID: me.userID, columns: columns)
                    try await row.create(on: db)
                    try await context.audit.record(req, "extractor.register", "extractor", name: descriptor.id, on: db)
                    return (row, .created)
                }
                guard row.isExternal, row.ownerID == me.userID else { throw taken }
                if row.version == descriptor.version {
                    guard row.descriptionJSON == description, row.columns == columns else {
                        throw APIError(.conflict, "version_exists",
                                       "Version \(row.version) of '\(descriptor.id)' is registered with another schema or other columns; results are identified by version, so raise the version.")
                    }
                    return (row, .ok)
                }
                row.version = descriptor.version
                row.summary = descriptor.summary
                row.descriptionJSON = description
                row.columns = columns
                row.updatedAt = Date()
                try await row.save(on: db)
                try await context.audit.record(req, "extractor.update", "extractor", name: descriptor.id, on: db)
                return (row, .ok)
            }
        } catch let error as APIError where error.code == "extractor_taken" {
            await context.audit.denied(req, "extractor.register", "extractor", descriptor.id)
            throw error
        } catch let error as any DatabaseError where error.isConstraintFailure {
            throw taken  // registered by someone else at the same moment
        }
        return try JSONResponse.make(Self.representation(result.0), status: result.1)
    }

    static func representation(_ a: Algorithm) -> [String: Any] {
        var object = (JSONResponse.embedded(a.descriptionJSON) as? [String: Any]) ?? [:]
        object["id"] = a.id
        object["version"] = a.version
        object["origin"] = a.origin
        if let columns = a.columns { object["columns"] = JSONResponse.embedded(columns) }
        return object
    }

    /// Records the built-in extractors in the `algorithms` table (run at start-up), so every
    /// result can be traced to the algorithm and schema that made it.
    static func sync(_ registry: ExtractorRegistry, on db: any Database) async throws {
        for d in registry.descriptors {
            if let row = try await Algorithm.find(d.id, on: db) {
                guard row.version != d.version || row.descriptionJSON != d.jsonText || row.isExternal else { continue }
                row.version = d.version
                row.summary = d.summary
                row.descriptionJSON = d.jsonText
                // A built-in added under an id someone had registered takes the id over.
                row.origin = Algorithm.Origin.builtin.rawValue
                row.ownerID = nil
                row.columns = nil
                row.updatedAt = Date()
                try await row.save(on: db)
            } else {
                try await Algorithm(id: d.id, version: d.version, summary: d.summary, descriptionJSON: d.jsonText,
                                    origin: Algorithm.Origin.builtin.rawValue).create(on: db)
            }
        }
    }
}
