import Fluent
import Foundation
import KaryonAnalysis
import KaryonPipeline
import KaryonStore
import Vapor

/// The HTTP protocol of external workers (`docs/external-workers.md`): a program in any language,
/// signed in with a personal API token, claims jobs of the external extractors its user
/// registered, downloads each image, keeps the lease alive with heartbeats and reports features
/// or a failure. Every report presents the claim's attempt token, and the queue writes only while
/// that token still holds the job (fencing), exactly as for Karyon's own workers.
///
/// A job of someone else's extractor — or of a built-in one — answers like a job that does not
/// exist (404, audited), so a worker learns nothing about other users' work.
///
/// ## References
/// - M. Kleppmann, "How to do distributed locking" (2016), on fencing tokens.
/// - The long-poll pattern: RFC 6202, "Known Issues and Best Practices for the Use of Long
///   Polling and Streaming in Bidirectional HTTP", §2.
struct WorkerController: Sendable {
    let context: AppContext

    /// Between wake-up signals, a waiting claim looks at the queue this often (for retries whose
    /// backoff ended, and jobs inserted by another server process on the same database).
    static let pollInterval = Duration.milliseconds(500)
    static let maxWaitSeconds = 30

    struct ClaimBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case extractors, wait_seconds }
        let extractors: [String]
        let wait_seconds: Int?

        func validate() throws {
            guard (1...32).contains(extractors.count) else {
                throw APIError.unprocessable("Field 'extractors' must list 1 to 32 ids of extractors you registered.")
            }
            if let wait = wait_seconds, !(0...WorkerController.maxWaitSeconds).contains(wait) {
                throw APIError.unprocessable("Field 'wait_seconds' must be 0 to \(WorkerController.maxWaitSeconds).")
            }
        }
    }

    struct AttemptBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case attempt_token }
        let attempt_token: UUID
    }

    struct CompleteBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case attempt_token, features }
        let attempt_token: UUID
        let features: [String: ReportedValue]
    }

    struct FailBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case attempt_token, error, retryable }
        let attempt_token: UUID
        let error: String
        let retryable: Bool?

        func validate() throws {
            _ = try Check.text(error, "error", max: 2000)
        }
    }

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .POST, path: "/api/v1/worker/claim",
                                   summary: "Claim the next job of your external extractors, waiting up to wait_seconds for one (long poll)",
                                   tag: "workers", requestBody: .ref("ClaimRequest"), response: .ref("Assignment"),
                                   noContent: "No job arrived within wait_seconds; claim again.", errors: [404, 422]),
                         on: routes, use: claim)
        catalog.register(Operation(method: .GET, path: "/api/v1/worker/jobs/{id}/image",
                                   summary: "The job's image, decrypted, while your attempt holds the lease", tag: "workers",
                                   headers: [("X-Attempt-Token", .uuid, "The attempt token of the claim.")],
                                   response: .binary, responseMediaType: "application/octet-stream", errors: [400, 404, 409, 500]),
                         on: routes, use: image)
        catalog.register(Operation(method: .POST, path: "/api/v1/worker/jobs/{id}/heartbeat",
                                   summary: "Renew the lease of your attempt; 409 lease_lost means stop working on it", tag: "workers",
                                   requestBody: .ref("AttemptRequest"), response: .ref("Lease"), errors: [404, 409]),
                         on: routes, use: heartbeat)
        catalog.register(Operation(method: .POST, path: "/api/v1/worker/jobs/{id}/complete",
                                   summary: "Report the features; stored only while your attempt holds the lease", tag: "workers",
                                   requestBody: .ref("CompletionRequest"), response: .ref("Completion"), errors: [404, 409, 422]),
                         on: routes, use: complete)
        catalog.register(Operation(method: .POST, path: "/api/v1/worker/jobs/{id}/fail",
                                   summary: "Report a failed attempt: retried with backoff, or dead-lettered", tag: "workers",
                                   requestBody: .ref("FailureRequest"), response: .ref("JobState"), errors: [404, 409]),
                         on: routes, use: fail)
    }

    static let leaseLost = APIError(
        .conflict, "lease_lost",
        "This attempt no longer holds the job (its lease expired and the job went back to the queue, or it already ended); stop working on it and claim again.")

    // MARK: Claim

    @Sendable func claim(_ req: Request) async throws -> Response {
        let me = try req.principal
        let body = try JSONBody.decode(ClaimBody.self, from: req)
        let extractors = try await claimable(body.extractors, req)
        let queue = context.queue(on: req.db)
        let worker = "api:\(me.userID.api)" + (me.tokenID.map { "/\($0.api)" } ?? "")
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(body.wait_seconds ?? 0)
        while true {
            if let job = try await queue.claim(extractors: extractors, worker: worker) {
                guard let image = try await ImageRecord.findDirectly(job.imageID, on: req.db) else {
                    _ = try await queue.fail(job, error: "the image was deleted", retryable: false)
                    continue
                }
                try await context.audit.record(req, "worker.claim", "job", job.id)
                req.logger.info("job claimed", metadata: ["job.id": "\(job.id)", "extractor.id": "\(job.extractorID)",
                                                          "job.attempt": "\(job.attempt)", "worker.id": "\(worker)"])
                return try JSONResponse.make(["job": assignment(job, image: image)])
            }
            let remaining = deadline - clock.now
            guard remaining > .zero, !Task.isCancelled else { return Response(status: .noContent) }
            await context.jobSignal.wait(for: Set(extractors), timeout: min(remaining, Self.pollInterval))
            // A token revoked while its worker waits gets nothing more.
            if let tokenID = me.tokenID, try await APIToken.find(tokenID, on: req.db)?.isActive(at: Date()) != true {
                throw APIError.unauthorized("The API token is not valid (unknown, revoked or expired).")
            }
        }
    }

    func assignment(_ job: ClaimedJob, image: ImageRecord) -> [String: Any] {
        ["id": job.id.api, "attempt_token": job.attemptToken.api, "attempt": job.attempt, "max_attempts": job.maxAttempts,
         "image_id": job.imageID.api, "study_id": job.studyID.api, "extractor": job.extractorID, "version": job.extractorVersion,
         "parameters": JSONResponse.embedded(job.parameters), "lease_seconds": Int(context.configuration.jobLease.rounded()),
         "image_url": "/api/v1/worker/jobs/\(job.id.api)/image", "image_sha256": image.sha256, "pixel_size": orNull(image.pixelSize)]
    }

    /// The requested ids, once each, after checking the caller may work on every one: external
    /// extractors they registered (administrators: any external one).
    func claimable(_ ids: [String], _ req: Request) async throws -> [String] {
        let me = try req.principal
        var out: [String] = []
        for id in ids where !out.contains(id) {
            if context.registry.types.contains(where: { $0.descriptor.id == id }) {
                throw APIError.unprocessable("'\(id)' is built in and runs in Karyon's own workers; claim the external extractors you registered.",
                                             code: "builtin_extractor")
            }
            guard ExternalDescriptor.isValidID(id), let algorithm = try await Algorithm.find(id, on: req.db),
                  Self.mayWork(on: algorithm, me) else {
                await context.audit.denied(req, "worker.claim", "extractor", String(id.prefix(64)))
                throw APIError.notFound("extractor")
            }
            out.append(id)
        }
        return out
    }

    static func mayWork(on algorithm: Algorithm, _ principal: Principal) -> Bool {
        algorithm.isExternal && (principal.isAdmin || algorithm.ownerID == principal.userID)
    }

    // MARK: One job

    /// The job in the path with its extractor, when the caller may work on it; else the uniform 404.
    func job(_ req: Request, action: String) async throws -> (Job, Algorithm) {
        let me = try req.principal
        let id = try await context.access.id(req, resource: "job", action: action)
        if let job = try await Job.find(id, on: req.db), let algorithm = try await Algorithm.find(job.extractorID, on: req.db),
           Self.mayWork(on: algorithm, me) {
            return (job, algorithm)
        }
        await context.audit.denied(req, action, "job", id.uuidString)
        throw APIError.notFound("job")
    }

    /// Whether `token` is the attempt that holds the job now (the queue fences writes again).
    static func holds(_ job: Job, _ token: UUID) -> Bool {
        job.jobState == .running && job.attemptToken == token
    }

    @Sendable func image(_ req: Request) async throws -> Response {
        let (job, _) = try await self.job(req, action: "worker.image")
        guard let raw = req.headers.first(name: "X-Attempt-Token") else {
            throw APIError.badRequest("Send the claim's attempt token in the X-Attempt-Token header.", code: "attempt_token_required")
        }
        guard let token = UUID(uuidString: raw) else {
            throw APIError.badRequest("X-Attempt-Token must be the UUID the claim returned.", code: "invalid_attempt_token")
        }
        guard Self.holds(job, token) else { throw Self.leaseLost }
        guard let image = try await ImageRecord.findDirectly(job.imageID, on: req.db) else { throw APIError.notFound("job") }
        let data = try await context.imageBytes(req, image, action: "worker.image")
        try await context.audit.record(req, "worker.image", "image", image.id)
        var headers = HTTPHeaders()
        headers.add(name: .contentType, value: ImageController.mediaType(image.format))
        headers.add(name: .cacheControl, value: "private, no-store")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }

    @Sendable func heartbeat(_ req: Request) async throws -> Response {
        let (job, _) = try await self.job(req, action: "worker.heartbeat")
        let body = try JSONBody.decode(AttemptBody.self, from: req)
        guard try await context.queue(on: req.db).heartbeat(try ClaimedJob(job, presenting: body.attempt_token)) else {
            throw Self.leaseLost
        }
        return try JSONResponse.make(["lease_seconds": Int(context.configuration.jobLease.rounded())])
    }

    @Sendable func complete(_ req: Request) async throws -> Response {
        let (job, algorithm) = try await self.job(req, action: "worker.complete")
        let body = try JSONBody.decodeAllowingNonFinite(CompleteBody.self, from: req)
        guard Self.holds(job, body.attempt_token) else { throw Self.leaseLost }
        let attempt = try ClaimedJob(job, presenting: body.attempt_token)
        let queue = context.queue(on: req.db)
        let outcomes = JobOutcomes(database: req.db)
        let columns = try ExternalDescriptor.columns(fromJSON: algorithm.columns ?? "[]", extractor: job.extractorID)
        let features: String
        do {
            features = try ReportedFeatures.check(body.features, columns: columns, extractor: job.extractorID)
        } catch let error as ExtractorError {
            // The report is refused and the attempt ends as failed: retried after a backoff, then
            // dead-lettered with this message. Nothing of it is stored.
            guard let state = try await queue.fail(attempt, error: "invalid result from the worker: \(error.message)") else { throw Self.leaseLost }
            await outcomes.record(.failed(attempt, state: state, message: error.message))
            try await context.audit.record(req, "worker.complete", "job", attempt.id, outcome: .failure)
            let next = state == .dead ? "it is dead-lettered (no attempts left)" : "it will be offered again after a backoff"
            throw APIError.unprocessable("\(error.message). The attempt was recorded as failed and \(next).", code: "invalid_features")
        }
        guard let image = try await ImageRecord.findDirectly(job.imageID, on: req.db) else { throw APIError.notFound("job") }
        let outcome = try await queue.complete(attempt, output: .init(features: features, inputSHA256: image.sha256))
        guard outcome != .fenced else { throw Self.leaseLost }
        await outcomes.record(.succeeded(attempt, duration: Date().timeIntervalSince(job.claimedAt ?? Date())))
        try await context.audit.record(req, "worker.complete", "job", attempt.id)
        req.logger.info("job finished", metadata: ["job.id": "\(attempt.id)", "extractor.id": "\(job.extractorID)", "job.outcome": "\(outcome)"])
        return try JSONResponse.make(["outcome": outcome == .stored ? "stored" : "duplicate"])
    }

    @Sendable func fail(_ req: Request) async throws -> Response {
        let (job, _) = try await self.job(req, action: "worker.fail")
        let body = try JSONBody.decode(FailBody.self, from: req)
        let attempt = try ClaimedJob(job, presenting: body.attempt_token)
        let message = "the worker reported: " + (try Check.text(body.error, "error", max: 2000))
        guard let state = try await context.queue(on: req.db).fail(attempt, error: message, retryable: body.retryable ?? true) else {
            throw Self.leaseLost
        }
        await JobOutcomes(database: req.db).record(.failed(attempt, state: state, message: message))
        try await context.audit.record(req, "worker.fail", "job", attempt.id)
        req.logger.warning("job failed", metadata: ["job.id": "\(attempt.id)", "extractor.id": "\(job.extractorID)", "job.state": "\(state.rawValue)"])
        return try JSONResponse.make(["state": state.rawValue])
    }
}
