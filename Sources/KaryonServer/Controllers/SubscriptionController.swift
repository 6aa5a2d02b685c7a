import Fluent
import KaryonAnalysis
import KaryonStore
import Vapor

/// A study's subscriptions after creation: subscribe to a built-in or external extractor (with a
/// backfill of the images already there, in the same transaction) and unsubscribe.
struct SubscriptionController: Sendable {
    let context: AppContext

    struct SubscribeBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case id, parameters, backfill }
        let id: String
        let parameters: [String: ParameterValue]?
        /// Queue jobs for the images already in the study (default true).
        let backfill: Bool?
    }

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .POST, path: "/api/v1/studies/{id}/extractors",
                                   summary: "Subscribe a study to an extractor; with backfill (default) its existing images get jobs at once",
                                   tag: "studies", requestBody: .ref("SubscriptionRequest"), status: 201, response: .ref("Subscription"),
                                   errors: [403, 404, 409, 422]), on: routes, use: subscribe)
        catalog.register(Operation(method: .DELETE, path: "/api/v1/studies/{id}/extractors/{subscription_id}",
                                   summary: "Unsubscribe: waiting jobs are removed, results are kept", tag: "studies",
                                   status: 204, errors: [403, 404]), on: routes, use: unsubscribe)
    }

    @Sendable func subscribe(_ req: Request) async throws -> Response {
        let study = try await context.access.study(req, .write, action: "study.subscribe")
        let studyID = try study.requireID()
        let body = try JSONBody.decode(SubscribeBody.self, from: req)
        let resolved = try await context.subscriptions.resolve(body.id, parameters: body.parameters ?? [:], project: study.projectID, on: req.db)
        let subscriptions = context.subscriptions
        let outcome = try await req.db.transaction { db in
            let outcome = try await subscriptions.subscribe(resolved, study: studyID, backfill: body.backfill ?? true, on: db)
            try await context.audit.record(req, "study.subscribe", "study", studyID, on: db)
            return outcome
        }
        if outcome.backfilled > 0 { await context.jobSignal.notify([resolved.extractorID]) }
        req.logger.info("study subscribed", metadata: ["study.id": "\(studyID)", "extractor.id": "\(resolved.extractorID)",
                                                        "jobs.count": "\(outcome.backfilled)"])
        var object = Representation.subscription(outcome.subscription)
        object["backfilled"] = outcome.backfilled
        return try JSONResponse.make(object, status: outcome.created ? .created : .ok)
    }

    @Sendable func unsubscribe(_ req: Request) async throws -> Response {
        let study = try await context.access.study(req, .write, action: "study.unsubscribe")
        let studyID = try study.requireID()
        let id = try await context.access.id(req, "subscription_id", resource: "subscription", action: "study.unsubscribe")
        guard let subscription = try await StudyExtractor.find(id, on: req.db), subscription.studyID == studyID else {
            await context.audit.denied(req, "study.unsubscribe", "subscription", id.uuidString)
            throw APIError.notFound("subscription")
        }
        let removed = try await req.db.transaction { db in
            let removed = try await Subscriptions.unsubscribe(subscription, on: db)
            try await context.audit.record(req, "study.unsubscribe", "study", studyID, on: db)
            return removed
        }
        req.logger.info("study unsubscribed", metadata: ["study.id": "\(studyID)", "extractor.id": "\(subscription.extractorID)",
                                                          "jobs.count": "\(removed)"])
        // The removed jobs may have been the study's last open ones.
        if removed > 0 { try? await StudyNotifier(database: req.db).studyMayHaveFinished(studyID) }
        return Response(status: .noContent)
    }
}
