import Fluent
import Foundation
import KaryonStore
import Vapor

/// Finds and deletes blobs that belong to records being deleted, and blobs no row points to.
enum BlobSweeper {
    /// Blob ids of the images of `studies` and of their results' artefacts.
    static func blobs(ofStudies studies: [UUID], on db: any Database) async throws -> [UUID] {
        guard !studies.isEmpty else { return [] }
        var ids = try await ImageRecord.query(on: db).filter(\.$studyID ~~ studies).all(\.$blobID)
        for artefacts in try await ResultRecord.query(on: db).filter(\.$studyID ~~ studies).all(\.$artefacts) {
            ids += artefactBlobIDs(artefacts)
        }
        return ids
    }

    /// Blob ids listed in a result's `artefacts` JSON.
    static func artefactBlobIDs(_ json: String) -> [UUID] {
        Array(Set(((try? ResultArtefact.list(fromJSON: json)) ?? []).map(\.blobID)))
    }

    static func delete(_ ids: [UUID], from store: any BlobStore, pool: NIOThreadPool, logger: Logger) async throws {
        guard !ids.isEmpty else { return }
        try await pool.runIfActive { deleteNow(ids, from: store, logger: logger) }
    }

    /// ``delete(_:from:pool:logger:)`` on the caller's (blocking) thread: best effort, failures
    /// logged (what stays is an orphan, collected at start-up).
    static func deleteNow(_ ids: [UUID], from store: any BlobStore, logger: Logger?) {
        for id in ids {
            do { try store.delete(id) } catch {
                logger?.error("blob delete failed", metadata: ["blob.id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Deletes blobs that no image or result references — left behind when a process died
    /// between writing a blob and committing its row. Run at start-up, before serving. Only blobs
    /// written more than `grace` ago count: another server on the same store may be between
    /// writing a blob and committing its row right now.
    /// - Returns: how many blobs were removed.
    static func collectOrphans(store: any BlobStore, db: any Database, logger: Logger, grace: TimeInterval = 15 * 60,
                               now: Date = Date()) async throws -> Int {
        let stored = try store.allIDs(writtenBefore: now.addingTimeInterval(-grace))
        guard !stored.isEmpty else { return 0 }
        var referenced = Set(try await ImageRecord.query(on: db).all(\.$blobID))
        for artefacts in try await ResultRecord.query(on: db).all(\.$artefacts) {
            referenced.formUnion(artefactBlobIDs(artefacts))
        }
        var removed = 0
        for id in stored where !referenced.contains(id) {
            try store.delete(id)
            removed += 1
        }
        if removed > 0 { logger.notice("removed orphaned blobs", metadata: ["blob.count": "\(removed)"]) }
        return removed
    }
}
