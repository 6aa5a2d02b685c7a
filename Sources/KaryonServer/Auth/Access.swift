import Fluent
import SQLKit
import KaryonStore
import Vapor

/// Object-level authorisation (OWASP API1): every id in a path is resolved through here, which
/// checks the caller's membership in the record's project. A record the caller may not see gets
/// the same 404 as one that does not exist, and the denial is audited either way.
struct Access: Sendable {
    enum Need: Sendable { case read, write, manage }

    let audit: Audit

    /// The caller's role in `projectID`, or nil when not a member.
    func role(_ request: Request, in projectID: UUID) async throws -> ProjectMember.Role? {
        let me = try request.principal
        // One narrow query: this runs for every id in every path.
        guard let row = try await request.db.sql(for: "access checks").raw("""
            SELECT role FROM project_members WHERE project_id = \(bind: projectID) AND user_id = \(bind: me.userID)
            """).first() else { return nil }
        return ProjectMember.Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .viewer
    }

    /// Ids of the projects the caller belongs to.
    func projectIDs(_ request: Request) async throws -> [UUID] {
        let me = try request.principal
        return try await ProjectMember.query(on: request.db).filter(\.$userID == me.userID).all().map(\.projectID)
    }

    /// Checks `need` on `projectID`; a non-member gets `notFound`, a member without the role 403.
    func require(_ need: Need, _ request: Request, project projectID: UUID, action: String,
                 resource: String, id: UUID?) async throws {
        try await check(need, role: try await role(request, in: projectID), request, action: action, resource: resource, id: id)
    }

    /// `need` against the caller's `role` (nil: not a member, the uniform 404); denials are audited.
    private func check(_ need: Need, role: ProjectMember.Role?, _ request: Request, action: String,
                       resource: String, id: UUID?) async throws {
        guard let role else {
            await audit.denied(request, action, resource, id?.uuidString)
            throw APIError.notFound(resource)
        }
        let allowed = switch need {
        case .read: true
        case .write: role.canWrite
        case .manage: role.canManage
        }
        guard allowed else {
            await audit.denied(request, action, resource, id?.uuidString)
            throw APIError.forbidden("Your role in this project (\(role.rawValue)) does not allow \(action).")
        }
    }

    /// The UUID path parameter `name`; anything else is the uniform 404.
    func id(_ request: Request, _ name: String = "id", resource: String, action: String) async throws -> UUID {
        guard let raw = request.parameters.get(name), let id = UUID(uuidString: raw) else {
            await audit.denied(request, action, resource, request.parameters.get(name).map { String($0.prefix(64)) })
            throw APIError.notFound(resource)
        }
        return id
    }

    func patient(_ request: Request, _ need: Need, action: String) async throws -> Patient {
        try await record(Patient.self, request, need, action: action, resource: "patient")
    }

    func study(_ request: Request, _ need: Need, action: String) async throws -> Study {
        try await record(Study.self, request, need, action: action, resource: "study")
    }

    func image(_ request: Request, _ need: Need, action: String) async throws -> ImageRecord {
        try await record(ImageRecord.self, request, need, action: action, resource: "image")
    }

    func project(_ request: Request, _ need: Need, action: String) async throws -> Project {
        try await record(Project.self, request, need, action: action, resource: "project",
                         membership: "JOIN project_members m ON m.project_id = r.id")
    }

    /// A result, through its image's project.
    func result(_ request: Request, _ need: Need, action: String) async throws -> ResultRecord {
        try await record(ResultRecord.self, request, need, action: action, resource: "result",
                         membership: "JOIN images i ON i.id = r.image_id JOIN project_members m ON m.project_id = i.project_id")
    }

    /// The record named by the `id` path parameter, once the caller's role in its project allows
    /// `need`. One query: the record (alias `r`) joined to the caller's membership row of its
    /// project (alias `m`, reached by `membership`), so "missing" and "not a member" are the same
    /// empty answer. The default `membership` is for records with a `project_id` column. Read
    /// directly (``DirectlyDecodable``): this runs for every id in every path.
    private func record<M: DirectlyDecodable>(_ type: M.Type, _ request: Request, _ need: Need, action: String, resource: String,
                                              membership: String = "JOIN project_members m ON m.project_id = r.project_id") async throws -> M {
        let id = try await id(request, resource: resource, action: action)
        let me = try request.principal
        let sql = try request.db.sql(for: "access checks")
        let row = try await sql.raw("""
            SELECT \(unsafeRaw: M.selectList(alias: "r")), m.role AS member_role FROM \(ident: M.schema) r
            \(unsafeRaw: membership) AND m.user_id = \(bind: me.userID) WHERE r.id = \(bind: id)
            """).first()
        let role = try row.map { ProjectMember.Role(rawValue: try $0.decode(column: "member_role", as: String.self)) ?? .viewer }
        try await check(need, role: role, request, action: action, resource: resource, id: id)
        guard let row else { throw APIError.notFound(resource) }  // (check has already refused a missing row)
        return try M.decode(row)
    }

    /// The caller's projects, narrowed to the `project_id` query parameter when one is given.
    func projectIDs(_ request: Request, filteredBy parameter: String) async throws -> [UUID] {
        let projects = try await projectIDs(request)
        guard let raw: String = request.query[parameter] else { return projects }
        guard let id = UUID(uuidString: raw) else { throw APIError.badRequest("'\(parameter)' must be a UUID.") }
        return projects.filter { $0 == id }
    }

    /// 403 unless the caller is a platform administrator (the denial is audited).
    func requireAdmin(_ request: Request, action: String) async throws {
        guard try request.principal.isAdmin else {
            await audit.denied(request, action, "admin", nil)
            throw APIError.forbidden("Only administrators may \(action).")
        }
    }
}
