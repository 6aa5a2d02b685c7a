import FluentKit
import Foundation
import KaryonStore
import SQLKit

/// What one upload commits in one transaction: its images, one job per image and subscription of
/// the study (read under the study's lock, so a subscription committing meanwhile is either seen
/// here or backfills these images itself), the audit events and the idempotency record.
///
/// The same statements run through Fluent (PostgreSQL) or on a ``DirectSQLite`` connection (the
/// embedded database, where the upload writes its blobs and commits in one hand-off to a thread
/// of its own instead of one per statement). Multi-row statements, not one per row: 50 rows ×
/// 20 columns stay far below every database's limit on bound parameters.
struct UploadRows: Sendable {
    let studyID: UUID
    let records: [ImageRecord]
    let audit: [AuditEvent]
    let idempotency: IdempotencyRecord?

    /// No rows to write: every file was a duplicate and no idempotency key was given.
    var isEmpty: Bool { records.isEmpty && idempotency == nil }

    /// Writes the rows in the caller's transaction on `db`; returns the extractors given jobs.
    func store(on db: any Database) async throws -> [String] {
        var subscriptions: [StudyExtractor] = []
        if !records.isEmpty {
            try await Subscriptions.lock(study: studyID, on: db)
            subscriptions = try await StudyExtractor.allDirectly(where: subscribed, on: db)
        }
        let ordered = Self.ordered(subscriptions)
        try await ImageRecord.insert(records, on: db)
        try await Job.insert(try jobs(for: ordered), on: db)
        try await Audit.insert(audit, on: db)
        if let idempotency { try await IdempotencyRecord.insert([idempotency], on: db) }
        return ordered.map(\.extractorID)
    }

    /// ``store(on:)-(any Database)`` in the caller's transaction on a direct connection.
    func store(on connection: DirectSQLite) throws -> [String] {
        var subscriptions: [StudyExtractor] = []
        if !records.isEmpty {
            try connection.run(Subscriptions.lockStatement(study: studyID))
            subscriptions = try StudyExtractor.allDirectly(where: subscribed, on: connection)
        }
        let ordered = Self.ordered(subscriptions)
        try ImageRecord.insert(records, on: connection)
        try Job.insert(try jobs(for: ordered), on: connection)
        try AuditEvent.insert(audit, on: connection)
        if let idempotency { try IdempotencyRecord.insert([idempotency], on: connection) }
        return ordered.map(\.extractorID)
    }

    private var subscribed: SQLQueryString { "r.study_id = \(bind: studyID)" }

    /// Oldest subscription first: jobs are created, and claimed, in that order.
    private static func ordered(_ subscriptions: [StudyExtractor]) -> [StudyExtractor] {
        subscriptions.sorted { ($0.createdAt, $0.extractorID) < ($1.createdAt, $1.extractorID) }
    }

    private func jobs(for subscriptions: [StudyExtractor]) throws -> [Job] {
        try records.flatMap { record in
            let imageID = try record.requireID()
            return subscriptions.map { sub in
                Job(imageID: imageID, studyID: studyID, extractorID: sub.extractorID, extractorVersion: sub.extractorVersion,
                    parameters: sub.parameters, parameterHash: sub.parameterHash)
            }
        }
    }
}
