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
            let hash = PersonalTokens.hash(token)
            guard let row = try await APIToken.query(on: request.db).filter(\.$tokenHash == hash).first(),
                  row.isActive(at: now),
                  let user = try await User.find(row.userID, on: request.db) else {
                throw APIError.unauthorized("The API token is not valid (unknown, revoked or expired).")
            }
            if row.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
                row.lastUsedAt = now
                try await row.save(on: request.db)
            }
            request.auth.login(Principal(userID: try user.requireID(), email: user.email, role: user.platformRole, tokenID: row.id))
        } else {
            guard let userID = await accessTokens.verify(token),
                  let account = try await Self.account(userID, on: request.db) else {
                throw APIError.unauthorized("The access token is not valid (expired, malformed or not ours); sign in again.")
            }
            request.auth.login(Principal(userID: userID, email: account.email, role: account.role, tokenID: nil))
        }
        return try await next.respond(to: request)
    }

    /// E-mail and role of a user, read with one narrow query (this runs on every request).
    static func account(_ id: UUID, on db: any Database) async throws -> (email: String, role: User.Role)? {
        guard let row = try await db.sql(for: "account checks").raw("SELECT email, role FROM users WHERE id = \(bind: id)").first() else { return nil }
        let role = User.Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .viewer
        return (try row.decode(column: "email", as: String.self), role)
    }
}
