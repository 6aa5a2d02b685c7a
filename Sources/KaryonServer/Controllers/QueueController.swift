import Fluent
import KaryonPipeline
import KaryonStore
import Vapor

/// The analysis queue: depth per extractor for everyone signed in, requeueing dead jobs for
/// administrators.
struct QueueController: Sendable {
    let context: AppContext

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .GET, path: "/api/v1/queue", summary: "Jobs per extractor and state, the oldest waiting job's age, and live worker pools",
                                   tag: "queue", response: .array(.ref("QueueDepth"))), on: routes, use: depth)
        catalog.register(Operation(method: .POST, path: "/api/v1/admin/jobs/{id}/requeue", summary: "Requeue a dead job (admin)",
                                   tag: "admin", status: 204, errors: [403, 404]), on: routes, use: requeue)
    }

    @Sendable func depth(_ req: Request) async throws -> Response {
        let rows = try await JobQueue(database: req.db).depth()
        let pools = try await WorkerRegistry(database: req.db).summary()
        let extractors = Set(rows.map(\.extractorID)).union(pools.keys).sorted()
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.extractorID, $0) })
        return try JSONResponse.make(extractors.map { id -> [String: Any] in
            let row = byID[id]
            let pool = pools[id] ?? .init()
            return ["extractor": id, "counts": row?.counts ?? [:],
                    "oldest_waiting_seconds": orNull(row?.oldestQueuedAge.map { ($0 * 10).rounded() / 10 }),
                    "pool_size": pool.slots, "busy": pool.busy, "processes": pool.processes]
        })
    }

    @Sendable func requeue(_ req: Request) async throws -> Response {
        try await context.access.requireAdmin(req, action: "requeue jobs")
        let id = try await context.access.id(req, resource: "job", action: "job.requeue")
        guard try await JobQueue(database: req.db).requeue(id) else { throw APIError.notFound("dead job") }
        try await context.audit.record(req, "job.requeue", "job", id)
        if let job = try await Job.find(id, on: req.db) { await context.jobSignal.notify([job.extractorID]) }
        return Response(status: .noContent)
    }
}
