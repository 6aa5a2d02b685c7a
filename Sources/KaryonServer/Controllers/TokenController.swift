import Fluent
import KaryonStore
import Vapor

/// Personal API tokens: created (shown once), listed without secrets, revoked.
struct TokenController: Sendable {
    let context: AppContext

    struct CreateBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case name, expires_in_days }
        let name: String
        let expires_in_days: Int?

        func validate() throws {
            _ = try Check.text(name, "name", max: 100)
            if let days = expires_in_days, !(1...3650).contains(days) {
                throw APIError.unprocessable("Field 'expires_in_days' must be 1 to 3650.")
            }
        }
    }

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .POST, path: "/api/v1/tokens", summary: "Create a personal API token (the secret is shown once)",
                                   tag: "tokens", requestBody: .ref("TokenRequest"), status: 201, response: .ref("NewToken"), errors: [422]),
                         on: routes, use: create)
        catalog.register(Operation(method: .GET, path: "/api/v1/tokens", summary: "Your API tokens (never their secrets)", tag: "tokens",
                                   response: .array(.ref("Token"))), on: routes, use: list)
        catalog.register(Operation(method: .DELETE, path: "/api/v1/tokens/{id}", summary: "Revoke an API token", tag: "tokens",
                                   status: 204, errors: [404]), on: routes, use: revoke)
    }

    @Sendable func create(_ req: Request) async throws -> Response {
        let body = try JSONBody.decode(CreateBody.self, from: req)
        let me = try req.principal
        let secret = PersonalTokens.generate()
        let expires = body.expires_in_days.map { Date().addingTimeInterval(Double($0) * 86_400) }
        let token = APIToken(userID: me.userID, name: try Check.text(body.name, "name", max: 100),
                             tokenHash: PersonalTokens.hash(secret), expiresAt: expires)
        try await token.create(on: req.db)
        try await context.audit.record(req, "token.create", "token", token.id)
        var object = Representation.token(token)
        object["token"] = secret
        return try JSONResponse.make(object, status: .created, headers: ["Cache-Control": "no-store"])
    }

    @Sendable func list(_ req: Request) async throws -> Response {
        let me = try req.principal
        let tokens = try await APIToken.query(on: req.db).filter(\.$userID == me.userID).sort(\.$createdAt, .descending).all()
        return try JSONResponse.make(tokens.map(Representation.token))
    }

    @Sendable func revoke(_ req: Request) async throws -> Response {
        let me = try req.principal
        let id = try await context.access.id(req, resource: "token", action: "token.revoke")
        guard let token = try await APIToken.find(id, on: req.db), token.userID == me.userID else {
            await context.audit.denied(req, "token.revoke", "token", id.uuidString)
            throw APIError.notFound("token")
        }
        if token.revokedAt == nil {
            token.revokedAt = Date()
            try await token.save(on: req.db)
        }
        try await context.audit.record(req, "token.revoke", "token", id)
        return Response(status: .noContent)
    }
}
