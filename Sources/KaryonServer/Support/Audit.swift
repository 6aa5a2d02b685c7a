import Fluent
import SQLKit
import KaryonStore
import Vapor

/// Appends audit rows: every read and write of patient-linked data and every denial.
/// Rows carry ids and verbs only (no names, addresses or other PHI).
///
/// Events outside a caller's transaction go through one ``AuditWriter`` (group commit): each
/// request still waits until its row is committed, but concurrent requests share one `INSERT`
/// and one commit (one fsync) instead of paying for one each.
struct Audit: Sendable {
    let writer: AuditWriter?

    init(writer: AuditWriter? = nil) {
        self.writer = writer
    }

    /// Records one event for `request`'s caller (if any). A failure to write the audit row fails
    /// the request: an unaudited read of health data must not succeed silently. Pass `db` to
    /// write inside the caller's transaction.
    func record(_ request: Request, _ action: String, _ resourceType: String, _ resourceID: UUID?,
                outcome: AuditEvent.Outcome = .success, on db: (any Database)? = nil) async throws {
        try await record(request, action, resourceType, name: resourceID?.uuidString.lowercased(), outcome: outcome, on: db)
    }

    /// As above, for a resource named by a string (an extractor id).
    func record(_ request: Request, _ action: String, _ resourceType: String, name: String?,
                outcome: AuditEvent.Outcome = .success, on db: (any Database)? = nil) async throws {
        let principal = request.auth.get(Principal.self)
        let event = AuditEvent(actorID: principal?.userID, tokenID: principal?.tokenID, action: action, resourceType: resourceType,
                               resourceID: name, outcome: outcome, requestID: request.id)
        if db == nil, let writer {
            try await writer.append(event)
        } else {
            try await Self.insert([event], on: db ?? request.db)
        }
    }

    /// One event per resource of a batch (an upload's images), written with one statement in
    /// the caller's transaction.
    func record(_ request: Request, _ action: String, _ resourceType: String, _ resourceIDs: [UUID?],
                on db: any Database) async throws {
        try await Self.insert(events(request, action, resourceType, resourceIDs), on: db)
    }

    /// The events of ``record(_:_:_:_:on:)`` (a batch), for writing in a transaction elsewhere.
    func events(_ request: Request, _ action: String, _ resourceType: String, _ resourceIDs: [UUID?]) -> [AuditEvent] {
        let principal = request.auth.get(Principal.self)
        return resourceIDs.map { id in
            AuditEvent(actorID: principal?.userID, tokenID: principal?.tokenID, action: action, resourceType: resourceType,
                       resourceID: id?.uuidString.lowercased(), outcome: .success, requestID: request.id)
        }
    }

    /// Inserts the rows with one plain multi-row `INSERT`.
    static func insert(_ events: [AuditEvent], on db: any Database) async throws {
        guard db is any SQLDatabase else {
            for event in events { try await event.create(on: db) }
            return
        }
        try await AuditEvent.insert(events, on: db, batch: 500)
    }

    /// Records a denial; never throws (the caller is already answering with an error).
    func denied(_ request: Request, _ action: String, _ resourceType: String, _ resourceID: String?) async {
        let principal = request.auth.get(Principal.self)
        let event = AuditEvent(
            actorID: principal?.userID, tokenID: principal?.tokenID, action: action, resourceType: resourceType,
            resourceID: resourceID?.lowercased(), outcome: .denied, requestID: request.id)
        do {
            if let writer { try await writer.append(event) } else { try await Self.insert([event], on: request.db) }
        } catch {
            request.logger.error("audit write failed", metadata: ["audit.action": "\(action)", "error": "\(error)"])
        }
    }
}

/// Group commit for audit rows: callers wait for their row to be committed; while one batch is
/// being written the next accumulates, so under load many rows share one statement and one
/// commit, and with no load a row is written at once (no timer, no added delay).
actor AuditWriter {
    let database: any Database
    /// Rows per statement (9 bound values each, well under SQLite's limit of 32 766).
    let maxBatch = 500
    private var pending: [(event: AuditEvent, done: CheckedContinuation<Void, any Error>)] = []
    private var writing = false

    init(database: any Database) {
        self.database = database
    }

    /// Returns once `event` is committed; throws if its batch failed.
    func append(_ event: AuditEvent) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            pending.append((event, done))
            if !writing {
                writing = true
                Task { await drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            do {
                try await Audit.insert(batch.map(\.event), on: database)
                for item in batch { item.done.resume() }
            } catch {
                for item in batch { item.done.resume(throwing: error) }
            }
        }
        writing = false
    }
}
