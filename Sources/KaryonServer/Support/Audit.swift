import Fluent
import KaryonStore
import Vapor

/// Appends audit rows: every read and write of patient-linked data and every denial.
/// Rows carry ids and verbs only (no names, addresses or other PHI).
struct Audit: Sendable {
    /// Records one event for `request`'s caller (if any). A failure to write the audit row fails
    /// the request: an unaudited read of health data must not succeed silently.
    func record(_ request: Request, _ action: String, _ resourceType: String, _ resourceID: UUID?,
                outcome: AuditEvent.Outcome = .success, on db: (any Database)? = nil) async throws {
        let principal = request.auth.get(Principal.self)
        let event = AuditEvent(
            actorID: principal?.userID, tokenID: principal?.tokenID, action: action, resourceType: resourceType,
            resourceID: resourceID?.uuidString.lowercased(), outcome: outcome, requestID: request.id)
        try await event.create(on: db ?? request.db)
    }

    /// Records a denial; never throws (the caller is already answering with an error).
    func denied(_ request: Request, _ action: String, _ resourceType: String, _ resourceID: String?) async {
        let principal = request.auth.get(Principal.self)
        let event = AuditEvent(
            actorID: principal?.userID, tokenID: principal?.tokenID, action: action, resourceType: resourceType,
            resourceID: resourceID?.lowercased(), outcome: .denied, requestID: request.id)
        do { try await event.create(on: request.db) } catch {
            request.logger.error("audit write failed", metadata: ["audit.action": "\(action)", "error": "\(error)"])
        }
    }
}
