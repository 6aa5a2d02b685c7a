import Vapor

/// Password hashing with bcrypt at cost 12 (OWASP password storage cheat sheet), run on the
/// thread pool so the ~0.25 s of work never blocks an event loop.
struct Passwords: Sendable {
    static let cost = 12
    /// A real hash of a random password, verified against when the account does not exist, so
    /// unknown e-mails take as long as wrong passwords.
    let decoy: String

    init() throws {
        decoy = try Bcrypt.hash(UUID().uuidString, cost: Self.cost)
    }

    func hash(_ password: String, on pool: NIOThreadPool) async throws -> String {
        try await pool.runIfActive { try Bcrypt.hash(password, cost: Self.cost) }
    }

    func verify(_ password: String, against hash: String?, on pool: NIOThreadPool) async throws -> Bool {
        let target = hash ?? decoy
        let ok = try await pool.runIfActive { try Bcrypt.verify(password, created: target) }
        return ok && hash != nil
    }
}
