import Foundation
import KaryonStore
import Vapor

/// Who is calling: the user, and the personal API token used (nil for an access token).
struct Principal: Authenticatable, Sendable {
    let userID: UUID
    let email: String
    let role: User.Role
    let tokenID: UUID?

    var isAdmin: Bool { role == .admin }
}

extension Request {
    /// The authenticated caller; throws 401 when the route was reached without one.
    var principal: Principal {
        get throws {
            guard let p = auth.get(Principal.self) else { throw APIError.unauthorized() }
            return p
        }
    }
}
