import Fluent
import SQLKit
import KaryonStore
import Vapor

/// Authenticates `Authorization: Bearer …` as either an access token (JWT) or a personal API
/// token. Tokens in the query string are refused outright (they end up in logs and histories).
/// Every failure is the same 401.
struct BearerAuthenticator: AsyncMiddleware {
    let accessTokens: AccessTokens

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if let query = request.url.query, query.contains("access_token=") || query.contains("token=") {
            throw APIError.badRequest("Send tokens in the Authorization header, never in the URL.", code: "token_in_query")
        }
        guard let bearer = request.headers.bearerAuthorization else { throw APIError.unauthorized() }
        let token = bearer.token
        let now = Date()
        if PersonalTokens.looksLikeToken(token) {
            guard let row = try await Self.personalToken(PersonalTokens.hash(token), on: request.db),
                  APIToken.isActive(revokedAt: row.revokedAt, expiresAt: row.expiresAt, at: now) else {
                throw APIError.unauthorized("The API token is not valid (unknown, revoked or expired).")
            }
            if row.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
                try await request.db.sql(for: "token use").raw("UPDATE api_tokens SET last_used_at = \(bind: now) WHERE id = \(bind: row.id)").run()
            }
            request.auth.login(Principal(userID: row.userID, email: row.email, role: row.role, tokenID: row.id))
        } else {
            guard let userID = await accessTokens.verify(token),
                  let account = try await Self.account(userID, on: request.db) else {
                throw APIError.unauthorized("The access token is not valid (expired, malformed or not ours); sign in again.")
            }
            request.auth.login(Principal(userID: userID, email: account.email, role: account.role, tokenID: nil))
        }
        return try await next.respond(to: request)
    }

    /// A personal token by its hash, with its owner's e-mail and role: one query (this runs on
    /// every request made with an API token).
    static func personalToken(_ hash: String, on db: any Database) async throws
        -> (id: UUID, userID: UUID, email: String, role: User.Role, lastUsedAt: Date?, expiresAt: Date?, revokedAt: Date?)? {
        guard let row = try await db.sql(for: "token checks").raw("""
            SELECT t.id, t.user_id, t.last_used_at, t.expires_at, t.revoked_at, u.email, u.role
            FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = \(bind: hash)
            """).first() else { return nil }
        return (try row.decode(column: "id", as: UUID.self), try row.decode(column: "user_id", as: UUID.self),
                try row.decode(column: "email", as: String.self),
                User.Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .viewer,
                try row.decode(column: "last_used_at", as: Date?.self), try row.decode(column: "expires_at", as: Date?.self),
                try row.decode(column: "revoked_at", as: Date?.self))
    }

    /// E-mail and role of a user, read with one narrow query (this runs on every request).
    static func account(_ id: UUID, on db: any Database) async throws -> (email: String, role: User.Role)? {
        guard let row = try await db.sql(for: "account checks").raw("SELECT email, role FROM users WHERE id = \(bind: id)").first() else { return nil }
        let role = User.Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .viewer
        return (try row.decode(column: "email", as: String.self), role)
    }
}
