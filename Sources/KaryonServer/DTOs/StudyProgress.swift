import Fluent
import Foundation
import KaryonStore
import SQLKit

/// A study's status and progress, computed from its jobs (never stored, so never stale).
///
/// `progress` is the share of jobs in an end state (succeeded or dead), 0–100. `status`:
/// `empty` (no images), `queued` (nothing started), `running`, `success` (all succeeded),
/// `partial` (all ended, some dead), `failed` (all dead).
struct StudyProgress: Sendable {
    var images = 0
    var counts: [String: Int] = [:]

    var total: Int { counts.values.reduce(0, +) }
    var finished: Int { counts["succeeded", default: 0] + counts["dead", default: 0] }
    var percent: Int { total == 0 ? (images == 0 ? 0 : 100) : finished * 100 / total }

    var status: String {
        if images == 0 { return "empty" }
        if total == 0 { return "success" }
        if finished == total {
            let dead = counts["dead", default: 0]
            return dead == 0 ? "success" : dead == total ? "failed" : "partial"
        }
        let started = counts["running", default: 0] + counts["failed", default: 0] + finished
        return started == 0 ? "queued" : "running"
    }

    static func of(study id: UUID, on db: any Database) async throws -> StudyProgress {
        var progress = StudyProgress()
        progress.images = try await ImageRecord.query(on: db).filter(\.$studyID == id).count()
        for state in Job.State.allCases { progress.counts[state.rawValue] = 0 }
        guard let sql = db as? any SQLDatabase else { return progress }
        let rows = try await sql.raw("SELECT state, COUNT(*) AS n FROM jobs WHERE study_id = \(bind: id) GROUP BY state").all()
        for row in rows {
            progress.counts[try row.decode(column: "state", as: String.self)] = try row.decode(column: "n", as: Int.self)
        }
        return progress
    }
}
