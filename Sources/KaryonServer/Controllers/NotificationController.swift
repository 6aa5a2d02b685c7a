import Fluent
import KaryonStore
import Vapor

/// The caller's dashboard messages (analysis finished, job failed).
struct NotificationController: Sendable {
    let context: AppContext

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .GET, path: "/api/v1/notifications", summary: "Your notifications, newest first", tag: "notifications",
                                   query: pageQuery + [("unread", .boolean, "Only unread ones.")], response: .ref("NotificationPage")),
                         on: routes, use: list)
        catalog.register(Operation(method: .POST, path: "/api/v1/notifications/{id}/read", summary: "Mark a notification read",
                                   tag: "notifications", status: 204, errors: [404]), on: routes, use: markRead)
    }

    @Sendable func list(_ req: Request) async throws -> Response {
        let me = try req.principal
        let page = try Page(req, maxLimit: context.configuration.maxPageSize)
        let query = UserNotification.query(on: req.db).filter(\.$userID == me.userID)
        if let unread: String = req.query["unread"] {
            guard unread == "true" || unread == "false" else { throw APIError.badRequest("'unread' must be true or false.") }
            if unread == "true" { query.filter(\.$readAt == .none) }
        }
        let total = try await query.count()
        let rows = try await query.sort(\.$createdAt, .descending).range(page.offset..<(page.offset + page.limit)).all()
        return try JSONResponse.page(rows.map(Representation.notification), total: total, page: page)
    }

    @Sendable func markRead(_ req: Request) async throws -> Response {
        let me = try req.principal
        let id = try await context.access.id(req, resource: "notification", action: "notification.read")
        guard let row = try await UserNotification.find(id, on: req.db), row.userID == me.userID else {
            await context.audit.denied(req, "notification.read", "notification", id.uuidString)
            throw APIError.notFound("notification")
        }
        if row.readAt == nil {
            row.readAt = Date()
            // A read notification no longer gathers later events of its kind (dead letters of a
            // study's extractor, a study finishing again after a requeue): the next makes a new one.
            row.dedupeKey = nil
            try await row.save(on: req.db)
        }
        return Response(status: .noContent)
    }
}
