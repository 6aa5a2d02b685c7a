import Fluent
import KaryonStore
import Vapor

/// Projects (groups) and their members. The creator becomes the project's owner.
struct ProjectController: Sendable {
    let context: AppContext

    struct CreateBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case name }
        let name: String
        func validate() throws { _ = try Check.text(name, "name") }
    }

    struct MemberBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case email, role }
        let email: String
        let role: String
        func validate() throws {
            guard ProjectMember.Role(rawValue: role) != nil else {
                throw APIError.unprocessable("Field 'role' must be one of owner, researcher, viewer.")
            }
        }
    }

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .POST, path: "/api/v1/projects", summary: "Create a project; you become its owner", tag: "projects",
                                   requestBody: .ref("ProjectRequest"), status: 201, response: .ref("Project"), errors: [403, 422]),
                         on: routes, use: create)
        catalog.register(Operation(method: .GET, path: "/api/v1/projects", summary: "Projects you belong to", tag: "projects",
                                   query: pageQuery, response: .ref("ProjectPage")), on: routes, use: list)
        catalog.register(Operation(method: .GET, path: "/api/v1/projects/{id}", summary: "One project", tag: "projects",
                                   response: .ref("Project"), errors: [404]), on: routes, use: show)
        catalog.register(Operation(method: .GET, path: "/api/v1/projects/{id}/members", summary: "Members of a project", tag: "projects",
                                   response: .array(.ref("Member")), errors: [404]), on: routes, use: members)
        catalog.register(Operation(method: .POST, path: "/api/v1/projects/{id}/members", summary: "Add a member (or change their role); owners only",
                                   tag: "projects", requestBody: .ref("MemberRequest"), status: 201, response: .ref("Member"),
                                   errors: [403, 404, 422]), on: routes, use: addMember)
        catalog.register(Operation(method: .DELETE, path: "/api/v1/projects/{id}/members/{user_id}", summary: "Remove a member; owners only",
                                   tag: "projects", status: 204, errors: [403, 404, 409]), on: routes, use: removeMember)
    }

    @Sendable func create(_ req: Request) async throws -> Response {
        let body = try JSONBody.decode(CreateBody.self, from: req)
        let me = try req.principal
        guard me.role != .viewer else {
            await context.audit.denied(req, "project.create", "project", nil)
            throw APIError.forbidden("Viewers cannot create projects.")
        }
        let project = Project(name: try Check.text(body.name, "name"), createdBy: me.userID)
        try await req.db.transaction { db in
            try await project.create(on: db)
            try await ProjectMember(projectID: try project.requireID(), userID: me.userID, role: .owner).create(on: db)
        }
        try await context.audit.record(req, "project.create", "project", project.id)
        return try JSONResponse.make(Representation.project(project, role: .owner), status: .created)
    }

    @Sendable func list(_ req: Request) async throws -> Response {
        let page = try Page(req, maxLimit: context.configuration.maxPageSize)
        let me = try req.principal
        let memberships = try await ProjectMember.query(on: req.db).filter(\.$userID == me.userID).all()
        let roles = Dictionary(memberships.map { ($0.projectID, $0.memberRole) }, uniquingKeysWith: { a, _ in a })
        let query = Project.query(on: req.db).filter(\.$id ~~ Array(roles.keys))
        let total = try await query.count()
        let projects = try await query.sort(\.$createdAt, .descending).range(page.offset..<(page.offset + page.limit)).all()
        return try JSONResponse.page(projects.map { Representation.project($0, role: roles[$0.id!]) }, total: total, page: page)
    }

    @Sendable func show(_ req: Request) async throws -> Response {
        let project = try await context.access.project(req, .read, action: "project.read")
        let role = try await context.access.role(req, in: try project.requireID())
        return try JSONResponse.make(Representation.project(project, role: role))
    }

    @Sendable func members(_ req: Request) async throws -> Response {
        let project = try await context.access.project(req, .read, action: "project.members.read")
        let rows = try await ProjectMember.query(on: req.db).filter(\.$projectID == project.requireID()).all()
        let users = try await User.query(on: req.db).filter(\.$id ~~ rows.map(\.userID)).all()
        let byID = Dictionary(users.map { ($0.id!, $0) }, uniquingKeysWith: { a, _ in a })
        return try JSONResponse.make(rows.map { Representation.member($0, user: byID[$0.userID]) })
    }

    @Sendable func addMember(_ req: Request) async throws -> Response {
        let project = try await context.access.project(req, .manage, action: "project.members.add")
        let body = try JSONBody.decode(MemberBody.self, from: req)
        let email = try Check.email(body.email)
        guard let user = try await User.query(on: req.db).filter(\.$email == email).first() else {
            throw APIError.unprocessable("No account has the e-mail \(email); they must register first.", code: "unknown_user")
        }
        let role = ProjectMember.Role(rawValue: body.role)!
        let projectID = try project.requireID()
        let userID = try user.requireID()
        let member: ProjectMember
        if let existing = try await ProjectMember.query(on: req.db).filter(\.$projectID == projectID).filter(\.$userID == userID).first() {
            if existing.memberRole == .owner, role != .owner {
                try await requireAnotherOwner(req.db, projectID: projectID, except: userID)
            }
            existing.role = role.rawValue
            try await existing.save(on: req.db)
            member = existing
        } else {
            member = ProjectMember(projectID: projectID, userID: userID, role: role)
            try await member.create(on: req.db)
        }
        try await context.audit.record(req, "project.members.add", "project", projectID)
        return try JSONResponse.make(Representation.member(member, user: user), status: .created)
    }

    @Sendable func removeMember(_ req: Request) async throws -> Response {
        let project = try await context.access.project(req, .manage, action: "project.members.remove")
        let projectID = try project.requireID()
        let userID = try await context.access.id(req, "user_id", resource: "member", action: "project.members.remove")
        guard let member = try await ProjectMember.query(on: req.db).filter(\.$projectID == projectID).filter(\.$userID == userID).first() else {
            throw APIError.notFound("member")
        }
        if member.memberRole == .owner { try await requireAnotherOwner(req.db, projectID: projectID, except: userID) }
        try await member.delete(on: req.db)
        try await context.audit.record(req, "project.members.remove", "project", projectID)
        return Response(status: .noContent)
    }

    private func requireAnotherOwner(_ db: any Database, projectID: UUID, except userID: UUID) async throws {
        let owners = try await ProjectMember.query(on: db).filter(\.$projectID == projectID)
            .filter(\.$role == ProjectMember.Role.owner.rawValue).filter(\.$userID != userID).count()
        guard owners > 0 else { throw APIError.conflict("A project keeps at least one owner; make someone else owner first.") }
    }
}

/// The `limit`/`offset` query parameters every list takes.
let pageQuery: [(name: String, schema: Schema, description: String)] = [
    ("limit", .integer(minimum: 1), "Page size (default 50, capped at 200)."),
    ("offset", .integer(minimum: 0), "Rows to skip."),
]
