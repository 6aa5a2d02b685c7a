import Fluent
import Foundation
import KaryonAnalysis
import KaryonStore
import SQLKit
import Vapor

/// What analyses a study's images: one path for choosing extractors when a study is created and
/// for subscribing it later, for built-in extractors and for external ones alike.
///
/// Parameters are validated against the extractor's schema — the built-in descriptor, or the
/// schema an external worker declared (read back into ``ParameterSpec``s and checked by the same
/// ``ParameterSet`` code) — and stored resolved (defaults filled in, canonical JSON) with their
/// hash, which is part of every result's identity.
struct Subscriptions: Sendable {
    let registry: ExtractorRegistry

    /// An extractor with validated parameters, ready to become a subscription.
    struct Resolved: Sendable {
        let extractorID: String
        let version: String
        let parameters: ParameterSet

        func subscription(study: UUID) -> StudyExtractor {
            StudyExtractor(studyID: study, extractorID: extractorID, extractorVersion: version,
                           parameters: parameters.canonicalJSON, parameterHash: parameters.digest)
        }
    }

    /// Validates `parameters` for extractor `id` for a study of `project`.
    ///
    /// An external extractor may analyse the study only when its owner could read the images
    /// anyway — a member of the study's project, or a platform administrator — since its worker
    /// receives them.
    /// - Throws: 422 (`unknown_extractor`, `unknown_parameter`, `invalid_parameter`,
    ///   `parameter_out_of_bounds`, `extractor_not_shared`) with a message that says what to fix.
    func resolve(_ id: String, parameters: [String: ParameterValue], project: UUID, on db: any Database) async throws -> Resolved {
        do {
            if registry.types.contains(where: { $0.descriptor.id == id }) {
                let configured = try registry.configure(id, values: parameters)
                return Resolved(extractorID: id, version: configured.descriptor.version, parameters: configured.parameters)
            }
            guard let algorithm = try await Algorithm.find(id, on: db), algorithm.isExternal else {
                throw APIError.unprocessable("Unknown extractor '\(id.prefix(80))'; GET /api/v1/extractors lists those you can use.",
                                             code: ExtractorError.Code.unknownExtractor.rawValue)
            }
            guard try await Self.isShared(algorithm, with: project, on: db) else {
                throw APIError.unprocessable(
                    "Extractor '\(id)' is registered by someone outside this study's project; its worker would receive the images. "
                        + "Add its owner to the project, or register your own.", code: "extractor_not_shared")
            }
            let schema = try ExternalDescriptor.parameters(fromDescription: algorithm.descriptionJSON, extractor: id)
            let set = try ParameterSet(schema: schema, given: parameters, extractor: id)
            return Resolved(extractorID: id, version: algorithm.version, parameters: set)
        } catch let error as ExtractorError {
            throw APIError.unprocessable(error.message, code: error.code.rawValue)
        }
    }

    /// Whether the owner of an external extractor may receive images of `project`.
    static func isShared(_ algorithm: Algorithm, with project: UUID, on db: any Database) async throws -> Bool {
        guard let owner = algorithm.ownerID, let user = try await User.find(owner, on: db) else { return false }
        if user.platformRole == .admin { return true }
        return try await ProjectMember.query(on: db).filter(\.$projectID == project).filter(\.$userID == owner).first() != nil
    }

    /// Serialises changes to one study's images and subscriptions: the first write of the
    /// transaction on `db` takes the study row's lock (PostgreSQL) or the database's write lock
    /// (SQLite), so an upload and a subscription committing at the same moment cannot miss each
    /// other's rows — every image gets a job for every subscription.
    static func lock(study: UUID, on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        try await sql.raw(lockStatement(study: study)).run()
    }

    /// The statement of ``lock(study:on:)``.
    static func lockStatement(study: UUID) -> SQLQueryString {
        "UPDATE studies SET updated_at = \(bind: Date()) WHERE id = \(bind: study)"
    }

    /// What ``subscribe(_:study:backfill:on:)`` did.
    struct Outcome {
        let subscription: StudyExtractor
        /// False when an existing subscription with the same parameters moved to a new version.
        let created: Bool
        /// Jobs created for images already in the study.
        let backfilled: Int
    }

    /// Adds `resolved` to the study and, with `backfill`, queues one job per image that has
    /// neither a job nor a result for the same extractor, version and parameter hash. Runs in the
    /// caller's transaction `db`.
    ///
    /// A subscription with the same extractor and parameters at an older version is moved to
    /// the current version (its later images and the backfill get jobs of the new version).
    /// - Throws: 409 `already_subscribed` when the same extractor, version and parameters are
    ///   already subscribed.
    func subscribe(_ resolved: Resolved, study: UUID, backfill: Bool, on db: any Database) async throws -> Outcome {
        try await Self.lock(study: study, on: db)
        let fresh = resolved.subscription(study: study)
        var created = true
        let subscription: StudyExtractor
        if let existing = try await StudyExtractor.query(on: db).filter(\.$studyID == study)
            .filter(\.$extractorID == fresh.extractorID).filter(\.$parameterHash == fresh.parameterHash).first() {
            guard existing.extractorVersion != fresh.extractorVersion else {
                throw APIError(.conflict, "already_subscribed",
                               "The study already has '\(fresh.extractorID)' \(fresh.extractorVersion) with these parameters.")
            }
            existing.extractorVersion = fresh.extractorVersion
            try await existing.save(on: db)
            subscription = existing
            created = false
        } else {
            try await fresh.create(on: db)
            subscription = fresh
        }
        let jobs = backfill ? try await Self.backfill(subscription, on: db) : 0
        return Outcome(subscription: subscription, created: created, backfilled: jobs)
    }

    /// Inserts the missing jobs of `subscription` for the study's images, in batches.
    static func backfill(_ subscription: StudyExtractor, on db: any Database) async throws -> Int {
        guard let sql = db as? any SQLDatabase else { throw APIError(.internalServerError, "internal", "Backfill needs an SQL database.") }
        let (e, v, h) = (subscription.extractorID, subscription.extractorVersion, subscription.parameterHash)
        let rows = try await sql.raw("""
            SELECT i.id FROM images i WHERE i.study_id = \(bind: subscription.studyID)
              AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.image_id = i.id AND j.extractor_id = \(bind: e)
                              AND j.extractor_version = \(bind: v) AND j.parameter_hash = \(bind: h))
              AND NOT EXISTS (SELECT 1 FROM results r WHERE r.image_id = i.id AND r.extractor_id = \(bind: e)
                              AND r.extractor_version = \(bind: v) AND r.parameter_hash = \(bind: h))
            ORDER BY i.created_at, i.id
            """).all()
        let images = try rows.map { try $0.decode(column: "id", as: UUID.self) }
        let now = Date()
        // 50 rows × 20 columns stay far below every database's limit on bound parameters.
        for start in stride(from: 0, to: images.count, by: 50) {
            let jobs = images[start..<min(start + 50, images.count)].map { image in
                Job(imageID: image, studyID: subscription.studyID, extractorID: e, extractorVersion: v,
                    parameters: subscription.parameters, parameterHash: h, createdAt: now)
            }
            try await jobs.create(on: db)
        }
        return images.count
    }

    /// Removes a subscription: its waiting jobs (queued, or failed and waiting to retry) go;
    /// running jobs may still finish; results and ended jobs stay. Returns the jobs removed.
    static func unsubscribe(_ subscription: StudyExtractor, on db: any Database) async throws -> Int {
        guard let sql = db as? any SQLDatabase else { throw APIError(.internalServerError, "internal", "Unsubscribing needs an SQL database.") }
        try await lock(study: subscription.studyID, on: db)
        let removed = try await sql.raw("""
            DELETE FROM jobs WHERE study_id = \(bind: subscription.studyID) AND extractor_id = \(bind: subscription.extractorID)
              AND extractor_version = \(bind: subscription.extractorVersion) AND parameter_hash = \(bind: subscription.parameterHash)
              AND state IN ('queued', 'failed') RETURNING id
            """).all()
        try await subscription.delete(on: db)
        return removed.count
    }
}
