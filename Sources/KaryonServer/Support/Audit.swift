import Fluent
import SQLKit
import KaryonStore
import Vapor

/// Appends audit rows: every read and write of patient-linked data and every denial.
/// Rows carry ids and verbs only (no names, addresses or other PHI).
struct Audit: Sendable {
    /// Records one event for `request`'s caller (if any). A failure to write the audit row fails
    /// the request: an unaudited read of health data must not succeed silently.
    func record(_ request: Request, _ action: String, _ resourceType: String, _ resourceID: UUID?,
                outcome: AuditEvent.Outcome = .success, on db: (any Database)? = nil) async throws {
        try await record(request, action, resourceType, name: resourceID?.uuidString.lowercased(), outcome: outcome, on: db)
    }

    /// As above, for a resource named by a string (an extractor id).
    func record(_ request: Request, _ action: String, _ resourceType: String, name: String?,
                outcome: AuditEvent.Outcome = .success, on db: (any Database)? = nil) async throws {
        let principal = request.auth.get(Principal.self)
        try await Self.append(AuditEvent(
            actorID: principal?.userID, tokenID: principal?.tokenID, action: action, resourceType: resourceType,
            resourceID: name, outcome: outcome, requestID: request.id), on: db ?? request.db)
    }

    /// Inserts the row with one plain `INSERT` (every audited request pays for this).
    static func append(_ event: AuditEvent, on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return try await event.create(on: db) }
        try await sql.insert(into: AuditEvent.schema)
            .columns("id", "at", "actor_id", "token_id", "action", "resource_type", "resource_id", "outcome", "request_id")
            .values(SQLBind(event.id ?? UUID()), SQLBind(event.at), SQLBind(event.actorID), SQLBind(event.tokenID), SQLBind(event.action),
                    SQLBind(event.resourceType), SQLBind(event.resourceID), SQLBind(event.outcome), SQLBind(event.requestID))
            .run()
    }

    /// Records a denial; never throws (the caller is already answering with an error).
    func denied(_ request: Request, _ action: String, _ resourceType: String, _ resourceID: String?) async {
        let principal = request.auth.get(Principal.self)
        let event = AuditEvent(
            actorID: principal?.userID, tokenID: principal?.tokenID, action: action, resourceType: resourceType,
            resourceID: resourceID?.lowercased(), outcome: .denied, requestID: request.id)
        do { try await Self.append(event, on: request.db) } catch {
            request.logger.error("audit write failed", metadata: ["audit.action": "\(action)", "error": "\(error)"])
        }
    }
}
