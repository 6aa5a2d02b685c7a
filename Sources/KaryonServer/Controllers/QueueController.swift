import Fluent
import KaryonPipeline
import KaryonStore
import Vapor

/// The analysis queue: depth per extractor for everyone signed in; for administrators, the jobs
/// themselves (the dead letters with their last error first of all) and requeueing dead jobs, one
/// or all of an extractor or study at once.
struct QueueController: Sendable {
    let context: AppContext

    /// `POST /api/v1/admin/jobs/requeue`: which dead jobs go back (absent: any).
    struct RequeueBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case extractor, study_id }
        let extractor: String?
        let study_id: UUID?
        func validate() throws {
            if let extractor, extractor.isEmpty { throw APIError.unprocessable("Field 'extractor' must not be empty.") }
        }
    }

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .GET, path: "/api/v1/queue", summary: "Jobs per extractor and state, the oldest waiting job's age, and live worker pools",
                                   tag: "queue", response: .array(.ref("QueueDepth"))), on: routes, use: depth)
        catalog.register(Operation(method: .POST, path: "/api/v1/admin/jobs/{id}/requeue", summary: "Requeue a dead job (admin)",
                                   tag: "admin", status: 204, errors: [403, 404]), on: routes, use: requeue)
        catalog.register(Operation(method: .GET, path: "/api/v1/admin/jobs", summary: "Analysis jobs, most recently changed first (admin)",
                                   tag: "admin",
                                   query: pageQuery + [("state", .string(enumeration: Job.State.allCases.map(\.rawValue)), "Only jobs in this state, e.g. dead."),
                                                       ("extractor", .text, "Only this extractor's jobs."),
                                                       ("study_id", .uuid, "Only this study's jobs."),
                                                       ("image_id", .uuid, "Only this image's jobs.")],
                                   response: .ref("JobPage"), errors: [400, 403]), on: routes, use: jobs)
        catalog.register(Operation(method: .POST, path: "/api/v1/admin/jobs/requeue",
                                   summary: "Requeue every dead job of an extractor, a study, or both (admin)", tag: "admin",
                                   requestBody: .ref("RequeueRequest"), response: .ref("Requeued"), errors: [403, 422]), on: routes, use: requeueDead)
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

    @Sendable func jobs(_ req: Request) async throws -> Response {
        try await context.access.requireAdmin(req, action: "list jobs")
        let page = try Page(req, maxLimit: context.configuration.maxPageSize)
        let query = Job.query(on: req.db)
        if let state: String = req.query["state"] {
            guard Job.State(rawValue: state) != nil else {
                throw APIError.badRequest("'state' must be one of \(Job.State.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            query.filter(\.$state == state)
        }
        if let extractor: String = req.query["extractor"] { query.filter(\.$extractorID == extractor) }
        if let raw: String = req.query["study_id"] {
            guard let id = UUID(uuidString: raw) else { throw APIError.badRequest("'study_id' must be a UUID.") }
            query.filter(\.$studyID == id)
        }
        if let raw: String = req.query["image_id"] {
            guard let id = UUID(uuidString: raw) else { throw APIError.badRequest("'image_id' must be a UUID.") }
            query.filter(\.$imageID == id)
        }
        let total = try await query.count()
        let rows = try await query.sort(\.$updatedAt, .descending).sort(\.$id).range(page.offset..<(page.offset + page.limit)).all()
        return try JSONResponse.page(rows.map(Representation.job), total: total, page: page)
    }

    @Sendable func requeueDead(_ req: Request) async throws -> Response {
        try await context.access.requireAdmin(req, action: "requeue jobs")
        let body = try JSONBody.decode(RequeueBody.self, from: req)
        let counts = try await JobQueue(database: req.db).requeueDead(extractor: body.extractor, studyID: body.study_id)
        if let study = body.study_id {
            try await context.audit.record(req, "job.requeue_dead", "study", study)
        } else {
            try await context.audit.record(req, "job.requeue_dead", "extractor", name: body.extractor)
        }
        if !counts.isEmpty { await context.jobSignal.notify(Set(counts.keys)) }
        return try JSONResponse.make(["requeued": counts.values.reduce(0, +), "by_extractor": counts])
    }
}
