import Fluent
import KaryonStore
import Vapor

/// Registration, login (with per-account throttling) and the caller's own profile.
struct AuthController: Sendable {
    let context: AppContext

    struct RegisterBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password, name }
        let email: String
        let password: String
        let name: String
    }

    struct LoginBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password }
        let email: String
        let password: String
    }

    func register(_ routes: any RoutesBuilder, authenticated: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .POST, path: "/api/v1/auth/register", summary: "Create an account (when open registration is on)",
                                   tag: "auth", authenticated: false, requestBody: .ref("RegisterRequest"), status: 201,
                                   response: .ref("User"), errors: [403, 409, 422, 429]), on: routes, use: registerUser)
        catalog.register(Operation(method: .POST, path: "/api/v1/auth/login", summary: "Exchange e-mail and password for an access token",
                                   tag: "auth", authenticated: false, requestBody: .ref("LoginRequest"),
                                   response: .ref("AccessToken"), errors: [422]), on: routes, use: login)
        catalog.register(Operation(method: .GET, path: "/api/v1/me", summary: "The signed-in user", tag: "auth",
                                   response: .ref("User")), on: authenticated, use: me)
    }

    @Sendable func registerUser(_ req: Request) async throws -> Response {
        let body = try JSONBody.decode(RegisterBody.self, from: req)
        let email = try Check.email(body.email)
        let name = try Check.text(body.name, "name")
        let password = try Check.password(body.password)
        guard try await Settings.openRegistration(req.db, default: context.configuration.openRegistrationDefault) else {
            await context.audit.denied(req, "auth.register", "user", nil)
            throw APIError.forbidden("Registration is closed; ask an administrator for an account.")
        }
        let hash = try await context.passwords.hash(password, on: req.application.threadPool)
        // Self-registered accounts are researchers; administrators come from `karyon user create --admin`.
        let user = User(email: email, name: name, passwordHash: hash, role: .researcher)
        do {
            try await user.create(on: req.db)
        } catch let error as any DatabaseError where error.isConstraintFailure {
            throw APIError.conflict("An account with this e-mail already exists.")
        }
        try await context.audit.record(req, "auth.register", "user", user.id)
        return try JSONResponse.make(Representation.user(user), status: .created)
    }

    @Sendable func login(_ req: Request) async throws -> Response {
        let body = try JSONBody.decode(LoginBody.self, from: req)
        let email = body.email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let config = context.configuration
        let user = try await User.query(on: req.db).filter(\.$email == email).first()
        let now = Date()
        let locked = user?.lockedUntil.map { $0 > now } ?? false
        // Always run bcrypt, so unknown, wrong and locked take the same time and get the same answer.
        let ok = try await context.passwords.verify(body.password, against: user?.passwordHash, on: req.application.threadPool)
        guard let user, ok, !locked else {
            if let user, !locked {
                user.failedLogins += 1
                if user.failedLogins >= config.lockoutThreshold {
                    user.lockedUntil = now.addingTimeInterval(config.lockoutDuration)
                    user.failedLogins = 0
                }
                try await user.save(on: req.db)
            }
            await context.audit.denied(req, "auth.login", "user", user?.id?.uuidString)
            throw APIError.unauthorized("Wrong e-mail or password, or the account is temporarily locked after repeated failures.")
        }
        if user.failedLogins != 0 || user.lockedUntil != nil {
            user.failedLogins = 0
            user.lockedUntil = nil
            try await user.save(on: req.db)
        }
        let token = try await context.accessTokens.issue(userID: try user.requireID(), now: now)
        req.auth.login(Principal(userID: try user.requireID(), email: user.email, role: user.platformRole, tokenID: nil))
        try await context.audit.record(req, "auth.login", "user", user.id)
        return try JSONResponse.make([
            "access_token": token, "token_type": "Bearer", "expires_in": Int(config.accessTokenLifetime),
        ])
    }

    @Sendable func me(_ req: Request) async throws -> Response {
        let me = try req.principal
        guard let user = try await User.find(me.userID, on: req.db) else { throw APIError.unauthorized() }
        return try JSONResponse.make(Representation.user(user))
    }
}

/// Run-time settings stored in the database.
enum Settings {
    static let openRegistrationKey = "open_registration"

    static func openRegistration(_ db: any Database, default value: Bool) async throws -> Bool {
        guard let row = try await Setting.find(openRegistrationKey, on: db) else { return value }
        return row.value == "true"
    }
}
