import Foundation
import KaryonStore

/// What each record looks like in the API. Only the fields listed here leave the server: no
/// password or token hashes, no blob ids, storage paths or key ids.
enum Representation {
    static func user(_ u: User) -> [String: Any] {
        ["id": orNull(u.id?.api), "email": u.email, "name": u.name, "role": u.role, "created_at": u.createdAt.api]
    }

    static func token(_ t: APIToken) -> [String: Any] {
        ["id": orNull(t.id?.api), "name": t.name, "created_at": t.createdAt.api, "last_used_at": orNull(t.lastUsedAt?.api),
         "expires_at": orNull(t.expiresAt?.api), "revoked": t.revokedAt != nil]
    }

    static func project(_ p: Project, role: ProjectMember.Role?) -> [String: Any] {
        ["id": orNull(p.id?.api), "name": p.name, "created_at": p.createdAt.api, "my_role": orNull(role?.rawValue)]
    }

    static func member(_ m: ProjectMember, user: User?) -> [String: Any] {
        ["user_id": m.userID.api, "email": orNull(user?.email), "name": orNull(user?.name), "role": m.role, "added_at": m.createdAt.api]
    }

    static func patient(_ p: Patient) -> [String: Any] {
        ["id": orNull(p.id?.api), "project_id": p.projectID.api, "surname": p.surname, "name": p.name,
         "address": orNull(p.address), "birth_date": orNull(p.birthDate), "sex": orNull(p.sex),
         "external_id": orNull(p.externalID), "notes": orNull(p.notes),
         "created_at": p.createdAt.api, "updated_at": p.updatedAt.api]
    }

    static func subscription(_ s: StudyExtractor) -> [String: Any] {
        ["id": s.extractorID, "version": s.extractorVersion, "parameters": JSONResponse.embedded(s.parameters),
         "parameter_hash": s.parameterHash, "subscription_id": orNull(s.id?.api)]
    }

    static func study(_ s: Study, extractors: [StudyExtractor], progress: StudyProgress) -> [String: Any] {
        ["id": orNull(s.id?.api), "project_id": s.projectID.api, "patient_id": s.patientID.api, "title": s.title,
         "kind": s.kind, "stain": orNull(s.stain), "marker": orNull(s.marker), "pixel_size": orNull(s.pixelSize),
         "extractors": extractors.map(subscription), "status": progress.status, "progress": progress.percent,
         "images": progress.images, "jobs": progress.counts, "created_at": s.createdAt.api, "updated_at": s.updatedAt.api]
    }

    static func image(_ i: ImageRecord) -> [String: Any] {
        ["id": orNull(i.id?.api), "study_id": i.studyID.api, "sha256": i.sha256, "byte_size": i.byteSize,
         "width": i.width, "height": i.height, "channels": i.channels, "bit_depth": i.bitDepth, "format": i.format,
         "pixel_size": orNull(i.pixelSize), "original_name": orNull(i.originalName), "created_at": i.createdAt.api]
    }

    static func notification(_ n: UserNotification) -> [String: Any] {
        ["id": orNull(n.id?.api), "kind": n.kind, "message": n.message, "resource_type": orNull(n.resourceType),
         "resource_id": orNull(n.resourceID?.api), "read": n.readAt != nil, "created_at": n.createdAt.api]
    }

    /// A job as administrators see it: where it is, how many attempts it made, its last error.
    static func job(_ j: Job) -> [String: Any] {
        ["id": orNull(j.id?.api), "image_id": j.imageID.api, "study_id": j.studyID.api, "extractor": j.extractorID,
         "version": j.extractorVersion, "parameter_hash": j.parameterHash, "state": j.state, "attempts": j.attempts,
         "max_attempts": j.maxAttempts, "error": orNull(j.lastError), "run_after": j.runAfter.api,
         "lease_expires_at": orNull(j.jobState == .running ? j.leaseExpiresAt?.api : nil), "worker_id": orNull(j.workerID),
         "created_at": j.createdAt.api, "updated_at": j.updatedAt.api, "finished_at": orNull(j.finishedAt?.api)]
    }

    static func audit(_ e: AuditEvent) -> [String: Any] {
        ["id": orNull(e.id?.api), "at": e.at.api, "actor_id": orNull(e.actorID?.api), "token_id": orNull(e.tokenID?.api),
         "action": e.action, "resource_type": e.resourceType, "resource_id": orNull(e.resourceID), "outcome": e.outcome,
         "request_id": orNull(e.requestID)]
    }
}
