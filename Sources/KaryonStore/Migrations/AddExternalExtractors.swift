import FluentKit
import SQLKit

/// External extractors and the HTTP worker protocol: who owns an external algorithm and which
/// output columns it declared (`algorithms.owner_id`, `algorithms.columns`), and when a job's
/// current attempt was claimed (`jobs.claimed_at`, for the duration of attempts that run outside
/// this process). Existing rows keep null: built-ins have no owner and no declared column list.
public struct AddExternalExtractors: AsyncMigration {
    public init() {}

    public func prepare(on database: any Database) async throws {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        try await database.schema(Algorithm.schema).field("owner_id", .uuid).update()
        try await database.schema(Algorithm.schema).field("columns", .string).update()
        try await database.schema(Job.schema).field("claimed_at", .datetime).update()
        if let sql = database as? any SQLDatabase {
            try await sql.raw("CREATE INDEX algorithms_owner ON algorithms (owner_id)").run()
        }
    }

    public func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase {
            try await sql.raw("DROP INDEX IF EXISTS algorithms_owner").run()
        }
        try await database.schema(Job.schema).deleteField("claimed_at").update()
        try await database.schema(Algorithm.schema).deleteField("columns").update()
        try await database.schema(Algorithm.schema).deleteField("owner_id").update()
    }
}
