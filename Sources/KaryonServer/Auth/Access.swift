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
        guard let sql = request.db as? any SQLDatabase else {
            return try await ProjectMember.query(on: request.db)
                .filter(\.$projectID == projectID).filter(\.$userID == me.userID)
                .first()?.memberRole
        }
        // One narrow query: this runs for every id in every path.
        guard let row = try await sql.select().column("role").from(ProjectMember.schema)
            .where("project_id", .equal, projectID).where("user_id", .equal, me.userID).first() else { return nil }
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
        guard let role = try await role(request, in: projectID) else {
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
        let id = try await id(request, resource: "patient", action: action)
        guard let patient = try await Patient.find(id, on: request.db) else {
            await audit.denied(request, action, "patient", id.uuidString)
            throw APIError.notFound("patient")
        }
        try await require(need, request, project: patient.projectID, action: action, resource: "patient", id: id)
        return patient
    }

    func study(_ request: Request, _ need: Need, action: String) async throws -> Study {
        let id = try await id(request, resource: "study", action: action)
        guard let study = try await Study.find(id, on: request.db) else {
            await audit.denied(request, action, "study", id.uuidString)
            throw APIError.notFound("study")
        }
        try await require(need, request, project: study.projectID, action: action, resource: "study", id: id)
        return study
    }

    func image(_ request: Request, _ need: Need, action: String) async throws -> ImageRecord {
        let id = try await id(request, resource: "image", action: action)
        guard let image = try await ImageRecord.find(id, on: request.db) else {
            await audit.denied(request, action, "image", id.uuidString)
            throw APIError.notFound("image")
        }
        try await require(need, request, project: image.projectID, action: action, resource: "image", id: id)
        return image
    }

    func project(_ request: Request, _ need: Need, action: String) async throws -> Project {
        let id = try await id(request, resource: "project", action: action)
        guard let project = try await Project.find(id, on: request.db) else {
            await audit.denied(request, action, "project", id.uuidString)
            throw APIError.notFound("project")
        }
        try await require(need, request, project: id, action: action, resource: "project", id: id)
        return project
    }

    /// 403 unless the caller is a platform administrator (the denial is audited).
    func requireAdmin(_ request: Request, action: String) async throws {
        guard try request.principal.isAdmin else {
            await audit.denied(request, action, "admin", nil)
            throw APIError.forbidden("Only administrators may \(action).")
        }
    }
}
