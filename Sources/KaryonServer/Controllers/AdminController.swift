import Fluent
import KaryonStore
import Vapor

/// Administration: accounts, platform settings and the audit log. Administrators only; every
/// refusal is audited.
struct AdminController: Sendable {
    let context: AppContext

    struct SettingsBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case open_registration }
        let open_registration: Bool?
    }

    struct UserPatch: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case role, unlock }
        let role: String?
        let unlock: Bool?
        func validate() throws {
            if let role, User.Role(rawValue: role) == nil {
                throw APIError.unprocessable("Field 'role' must be one of admin, researcher, viewer.")
            }
        }
    }

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .GET, path: "/api/v1/admin/users", summary: "All accounts (admin)", tag: "admin",
                                   query: pageQuery, response: .ref("UserPage"), errors: [403]), on: routes, use: users)
        catalog.register(Operation(method: .PATCH, path: "/api/v1/admin/users/{id}", summary: "Change an account's role or unlock it (admin)",
                                   tag: "admin", requestBody: .ref("UserPatch"), response: .ref("User"), errors: [403, 404, 409, 422]),
                         on: routes, use: updateUser)
        catalog.register(Operation(method: .GET, path: "/api/v1/admin/settings", summary: "Platform settings (admin)", tag: "admin",
                                   response: .ref("Settings"), errors: [403]), on: routes, use: settings)
        catalog.register(Operation(method: .PATCH, path: "/api/v1/admin/settings", summary: "Change platform settings (admin)", tag: "admin",
                                   requestBody: .ref("Settings"), response: .ref("Settings"), errors: [403, 422]), on: routes, use: updateSettings)
        catalog.register(Operation(method: .GET, path: "/api/v1/audit", summary: "The audit log, newest first (admin)", tag: "admin",
                                   query: pageQuery + [("actor_id", .uuid, "Only this user's events."),
                                                       ("action", .text, "Only this action, e.g. patient.read."),
                                                       ("outcome", .string(enumeration: ["success", "denied", "failure"]), "Only this outcome."),
                                                       ("resource_id", .text, "Only events about this resource."),
                                                       ("since", .dateTime, "Only events at or after this time.")],
                                   response: .ref("AuditPage"), errors: [403]), on: routes, use: audit)
    }

    @Sendable func users(_ req: Request) async throws -> Response {
        try await context.access.requireAdmin(req, action: "list accounts")
        let page = try Page(req, maxLimit: context.configuration.maxPageSize)
        let query = User.query(on: req.db)
        let total = try await query.count()
        let rows = try await query.sort(\.$email).range(page.offset..<(page.offset + page.limit)).all()
        return try JSONResponse.page(rows.map(Representation.user), total: total, page: page)
    }

    @Sendable func updateUser(_ req: Request) async throws -> Response {
        try await context.access.requireAdmin(req, action: "change accounts")
        let id = try await context.access.id(req, resource: "user", action: "admin.user.update")
        let body = try JSONBody.decode(UserPatch.self, from: req)
        guard let user = try await User.find(id, on: req.db) else { throw APIError.notFound("user") }
        if let role = body.role {
            if user.platformRole == .admin, role != "admin" {
                let admins = try await User.query(on: req.db).filter(\.$role == "admin").count()
                guard admins > 1 else { throw APIError.conflict("The platform keeps at least one administrator.") }
            }
            user.role = role
        }
        if body.unlock == true {
            user.lockedUntil = nil
            user.failedLogins = 0
        }
        try await user.save(on: req.db)
        try await context.audit.record(req, "admin.user.update", "user", id)
        return try JSONResponse.make(Representation.user(user))
    }

    @Sendable func settings(_ req: Request) async throws -> Response {
        try await context.access.requireAdmin(req, action: "read settings")
        let open = try await Settings.openRegistration(req.db, default: context.configuration.openRegistrationDefault)
        return try JSONResponse.make(["open_registration": open])
    }

    @Sendable func updateSettings(_ req: Request) async throws -> Response {
        try await context.access.requireAdmin(req, action: "change settings")
        let body = try JSONBody.decode(SettingsBody.self, from: req)
        if let open = body.open_registration {
            if let row = try await Setting.find(Settings.openRegistrationKey, on: req.db) {
                row.value = open ? "true" : "false"
                row.updatedAt = Date()
                try await row.save(on: req.db)
            } else {
                try await Setting(key: Settings.openRegistrationKey, value: open ? "true" : "false").create(on: req.db)
            }
        }
        try await context.audit.record(req, "admin.settings.update", "settings", nil)
        return try await settings(req)
    }

    @Sendable func audit(_ req: Request) async throws -> Response {
        try await context.access.requireAdmin(req, action: "read the audit log")
        let page = try Page(req, maxLimit: context.configuration.maxPageSize)
        let query = AuditEvent.query(on: req.db)
        if let raw: String = req.query["actor_id"] {
            guard let id = UUID(uuidString: raw) else { throw APIError.badRequest("'actor_id' must be a UUID.") }
            query.filter(\.$actorID == id)
        }
        if let action: String = req.query["action"] { query.filter(\.$action == action) }
        if let outcome: String = req.query["outcome"] { query.filter(\.$outcome == outcome) }
        if let resource: String = req.query["resource_id"] {
            query.filter(\.$resourceID == resource.lowercased())
        }
        if let raw: String = req.query["since"] {
            guard let since = ISO8601DateFormatter().date(from: raw) ?? {
                let f = ISO8601DateFormatter(); f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]; return f.date(from: raw)
            }() else { throw APIError.badRequest("'since' must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z.") }
            query.filter(\.$at >= since)
        }
        let total = try await query.count()
        let rows = try await query.sort(\.$at, .descending).range(page.offset..<(page.offset + page.limit)).all()
        return try JSONResponse.page(rows.map(Representation.audit), total: total, page: page)
    }
}
