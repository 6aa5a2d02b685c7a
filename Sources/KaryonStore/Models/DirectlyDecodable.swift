import FluentKit
import Foundation
import SQLKit

/// A model that hot read paths load with hand-written SQL rather than Fluent's query builder.
///
/// Every request resolves the record in its path and checks the caller's membership of its
/// project. Through Fluent, building that query, serialising it and decoding the row walk the
/// model's property wrappers by reflection each time; profiled on an authorised
/// `GET /api/v1/patients/{id}`, that was about a third of the request's CPU (1.5 → 1.0 ms when
/// read directly). ``columns`` and ``decode(_:)`` list the same fields as the model's wrappers; a
/// test loads every conforming model both ways and compares them, and checks the column list
/// against Fluent's.
public protocol DirectlyDecodable: Model where IDValue == UUID {
    /// The table's columns, each once.
    static var columns: [String] { get }
    /// The model from a row holding ``columns``, marked as stored (it can be updated or deleted).
    static func decode(_ row: any SQLRow) throws -> Self
}

extension DirectlyDecodable {
    /// ``columns`` as a select list for the table aliased `alias`, identifiers quoted (the same
    /// text works on SQLite and PostgreSQL).
    public static func selectList(alias: String) -> String {
        columns.map { "\(alias).\"\($0)\"" }.joined(separator: ", ")
    }

    /// The rows that satisfy `condition` (columns of alias `r`), read directly, in no particular order.
    public static func allDirectly(where condition: SQLQueryString, on db: any Database) async throws -> [Self] {
        let sql = try db.sql(for: "\(schema) reads")
        return try await sql.raw(allStatement(where: condition)).all().map(decode)
    }

    /// ``allDirectly(where:on:)-(_,any Database)`` on a direct connection to the embedded
    /// database, from the caller's thread.
    public static func allDirectly(where condition: SQLQueryString, on connection: DirectSQLite) throws -> [Self] {
        try connection.rows(allStatement(where: condition)).map(decode)
    }

    private static func allStatement(where condition: SQLQueryString) -> SQLQueryString {
        "SELECT \(unsafeRaw: selectList(alias: "r")) FROM \(ident: schema) r WHERE \(condition)"
    }

    /// The row with id `id`, read directly; nil when there is none.
    public static func findDirectly(_ id: UUID, on db: any Database) async throws -> Self? {
        let sql = try db.sql(for: "\(schema) reads")
        return try await sql.raw(findStatement(id)).first().map(decode)
    }

    /// ``findDirectly(_:on:)-(_,any Database)`` on a direct connection to the embedded database,
    /// from the caller's thread.
    public static func findDirectly(_ id: UUID, on connection: DirectSQLite) throws -> Self? {
        try connection.rows(findStatement(id)).first.map(decode)
    }

    private static func findStatement(_ id: UUID) -> SQLQueryString {
        "SELECT \(unsafeRaw: selectList(alias: "r")) FROM \(ident: schema) r WHERE r.\"id\" = \(bind: id)"
    }
}

extension Patient: DirectlyDecodable {
    public static let columns = ["id", "project_id", "surname", "name", "address", "birth_date", "sex", "external_id", "notes",
                                 "created_at", "updated_at"]

    public static func decode(_ row: any SQLRow) throws -> Patient {
        let p = Patient()
        p.id = try row.decode(column: "id", as: UUID.self)
        p.projectID = try row.decode(column: "project_id", as: UUID.self)
        p.surname = try row.decode(column: "surname", as: String.self)
        p.name = try row.decode(column: "name", as: String.self)
        p.address = try row.decode(column: "address", as: String?.self)
        p.birthDate = try row.decode(column: "birth_date", as: String?.self)
        p.sex = try row.decode(column: "sex", as: String?.self)
        p.externalID = try row.decode(column: "external_id", as: String?.self)
        p.notes = try row.decode(column: "notes", as: String?.self)
        p.createdAt = try row.decode(column: "created_at", as: Date.self)
        p.updatedAt = try row.decode(column: "updated_at", as: Date.self)
        p.$id.exists = true
        return p
    }
}

extension Study: DirectlyDecodable {
    public static let columns = ["id", "project_id", "patient_id", "title", "kind", "stain", "marker", "pixel_size", "created_by",
                                 "created_at", "updated_at"]

    public static func decode(_ row: any SQLRow) throws -> Study {
        let s = Study()
        s.id = try row.decode(column: "id", as: UUID.self)
        s.projectID = try row.decode(column: "project_id", as: UUID.self)
        s.patientID = try row.decode(column: "patient_id", as: UUID.self)
        s.title = try row.decode(column: "title", as: String.self)
        s.kind = try row.decode(column: "kind", as: String.self)
        s.stain = try row.decode(column: "stain", as: String?.self)
        s.marker = try row.decode(column: "marker", as: String?.self)
        s.pixelSize = try row.decode(column: "pixel_size", as: Double?.self)
        s.createdBy = try row.decode(column: "created_by", as: UUID.self)
        s.createdAt = try row.decode(column: "created_at", as: Date.self)
        s.updatedAt = try row.decode(column: "updated_at", as: Date.self)
        s.$id.exists = true
        return s
    }
}

extension ImageRecord: DirectlyDecodable {
    public static let columns = ["id", "study_id", "project_id", "blob_id", "sha256", "byte_size", "width", "height", "channels",
                                 "bit_depth", "format", "pixel_size", "original_name", "created_by", "created_at"]

    public static func decode(_ row: any SQLRow) throws -> ImageRecord {
        let i = ImageRecord()
        i.id = try row.decode(column: "id", as: UUID.self)
        i.studyID = try row.decode(column: "study_id", as: UUID.self)
        i.projectID = try row.decode(column: "project_id", as: UUID.self)
        i.blobID = try row.decode(column: "blob_id", as: UUID.self)
        i.sha256 = try row.decode(column: "sha256", as: String.self)
        i.byteSize = try row.decode(column: "byte_size", as: Int.self)
        i.width = try row.decode(column: "width", as: Int.self)
        i.height = try row.decode(column: "height", as: Int.self)
        i.channels = try row.decode(column: "channels", as: Int.self)
        i.bitDepth = try row.decode(column: "bit_depth", as: Int.self)
        i.format = try row.decode(column: "format", as: String.self)
        i.pixelSize = try row.decode(column: "pixel_size", as: Double?.self)
        i.originalName = try row.decode(column: "original_name", as: String?.self)
        i.createdBy = try row.decode(column: "created_by", as: UUID.self)
        i.createdAt = try row.decode(column: "created_at", as: Date.self)
        i.$id.exists = true
        return i
    }
}

extension Project: DirectlyDecodable {
    public static let columns = ["id", "name", "created_by", "created_at"]

    public static func decode(_ row: any SQLRow) throws -> Project {
        let p = Project()
        p.id = try row.decode(column: "id", as: UUID.self)
        p.name = try row.decode(column: "name", as: String.self)
        p.createdBy = try row.decode(column: "created_by", as: UUID.self)
        p.createdAt = try row.decode(column: "created_at", as: Date.self)
        p.$id.exists = true
        return p
    }
}

extension ResultRecord: DirectlyDecodable {
    public static let columns = ["id", "image_id", "study_id", "job_id", "extractor_id", "extractor_version", "parameters",
                                 "parameter_hash", "input_sha256", "features", "artefacts", "created_at"]

    public static func decode(_ row: any SQLRow) throws -> ResultRecord {
        let r = ResultRecord()
        r.id = try row.decode(column: "id", as: UUID.self)
        r.imageID = try row.decode(column: "image_id", as: UUID.self)
        r.studyID = try row.decode(column: "study_id", as: UUID.self)
        r.jobID = try row.decode(column: "job_id", as: UUID?.self)
        r.extractorID = try row.decode(column: "extractor_id", as: String.self)
        r.extractorVersion = try row.decode(column: "extractor_version", as: String.self)
        r.parameters = try row.decode(column: "parameters", as: String.self)
        r.parameterHash = try row.decode(column: "parameter_hash", as: String.self)
        r.inputSHA256 = try row.decode(column: "input_sha256", as: String.self)
        r.features = try row.decode(column: "features", as: String.self)
        r.artefacts = try row.decode(column: "artefacts", as: String.self)
        r.createdAt = try row.decode(column: "created_at", as: Date.self)
        r.$id.exists = true
        return r
    }
}

/// A model that hot write paths insert with hand-written multi-row statements rather than
/// Fluent's `create`, which walks the property wrappers by reflection for every row (an upload
/// inserts its images and one job per image and subscription). A test inserts the same values
/// both ways and compares what is read back.
public protocol DirectlyInsertable: Model {
    /// The table's columns, each once.
    static var columns: [String] { get }
    /// The values of ``columns``, in order (the id must be set).
    var columnValues: [any Encodable & Sendable] { get }
}

extension DirectlyInsertable {
    /// Inserts `models` with one statement per `batch` rows.
    public static func insert(_ models: some Collection<Self>, on db: any Database, batch: Int = 50) async throws {
        let sql = try db.sql(for: "\(schema) inserts")
        for statement in insertStatements(models, batch: batch) {
            try await sql.execute(sql: statement) { _ in }
        }
    }

    /// ``insert(_:on:batch:)-(_,any Database,_)`` on a direct connection to the embedded
    /// database, from the caller's thread.
    public static func insert(_ models: some Collection<Self>, on connection: DirectSQLite, batch: Int = 50) throws {
        for statement in insertStatements(models, batch: batch) { try connection.run(statement) }
    }

    /// Multi-row `INSERT`s of `models`, `batch` rows each.
    public static func insertStatements(_ models: some Collection<Self>, batch: Int = 50) -> [SQLInsert] {
        let rows = Array(models)
        return stride(from: 0, to: rows.count, by: batch).map { start in
            var insert = SQLInsert(table: SQLIdentifier(schema))
            insert.columns = columns.map { SQLIdentifier($0) }
            insert.values = rows[start..<min(start + batch, rows.count)].map { $0.columnValues.map { SQLBind($0) } }
            return insert
        }
    }
}

extension ImageRecord: DirectlyInsertable {
    public var columnValues: [any Encodable & Sendable] {
        [id, studyID, projectID, blobID, sha256, byteSize, width, height, channels, bitDepth, format, pixelSize, originalName,
         createdBy, createdAt]
    }
}

extension Job: DirectlyInsertable {
    public static let columns = ["id", "image_id", "study_id", "extractor_id", "extractor_version", "parameters", "parameter_hash",
                                 "state", "attempts", "max_attempts", "run_after", "lease_expires_at", "attempt_token", "worker_id",
                                 "last_error", "created_at", "updated_at", "finished_at", "claimed_at"]

    public var columnValues: [any Encodable & Sendable] {
        [id, imageID, studyID, extractorID, extractorVersion, parameters, parameterHash, state, attempts, maxAttempts, runAfter,
         leaseExpiresAt, attemptToken, workerID, lastError, createdAt, updatedAt, finishedAt, claimedAt]
    }
}

extension StudyExtractor: DirectlyDecodable {
    public static let columns = ["id", "study_id", "extractor_id", "extractor_version", "parameters", "parameter_hash", "created_at"]

    public static func decode(_ row: any SQLRow) throws -> StudyExtractor {
        let s = StudyExtractor()
        s.id = try row.decode(column: "id", as: UUID.self)
        s.studyID = try row.decode(column: "study_id", as: UUID.self)
        s.extractorID = try row.decode(column: "extractor_id", as: String.self)
        s.extractorVersion = try row.decode(column: "extractor_version", as: String.self)
        s.parameters = try row.decode(column: "parameters", as: String.self)
        s.parameterHash = try row.decode(column: "parameter_hash", as: String.self)
        s.createdAt = try row.decode(column: "created_at", as: Date.self)
        s.$id.exists = true
        return s
    }
}

extension AuditEvent: DirectlyInsertable {
    public static let columns = ["id", "at", "actor_id", "token_id", "action", "resource_type", "resource_id", "outcome", "request_id"]

    public var columnValues: [any Encodable & Sendable] {
        [id ?? UUID(), at, actorID, tokenID, action, resourceType, resourceID, outcome, requestID]
    }
}

extension IdempotencyRecord: DirectlyInsertable {
    public static let columns = ["id", "user_id", "key", "request_hash", "status", "response", "created_at"]

    public var columnValues: [any Encodable & Sendable] { [id ?? UUID(), userID, key, requestHash, status, response, createdAt] }
}
