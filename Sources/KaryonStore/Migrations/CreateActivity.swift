import FluentKit
import SQLKit

/// Notifications, idempotency records and the append-only audit log. On both SQLite and
/// PostgreSQL a trigger refuses `UPDATE` and `DELETE` on `audit_events`.
public struct CreateActivity: AsyncMigration {
    public init() {}

    public func prepare(on database: any Database) async throws {
        try await database.schema(UserNotification.schema)
            .id()
            .field("user_id", .uuid, .required, .references(User.schema, .id, onDelete: .cascade))
            .field("kind", .string, .required)
            .field("message", .string, .required)
            .field("resource_type", .string)
            .field("resource_id", .uuid)
            .field("read_at", .datetime)
            .field("created_at", .datetime, .required)
            .create()
        try await database.schema(IdempotencyRecord.schema)
            .id()
            .field("user_id", .uuid, .required, .references(User.schema, .id, onDelete: .cascade))
            .field("key", .string, .required)
            .field("request_hash", .string, .required)
            .field("status", .int, .required)
            .field("response", .string, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "user_id", "key")
            .create()
        try await database.schema(AuditEvent.schema)
            .id()
            .field("at", .datetime, .required)
            .field("actor_id", .uuid)
            .field("token_id", .uuid)
            .field("action", .string, .required)
            .field("resource_type", .string, .required)
            .field("resource_id", .string)
            .field("outcome", .string, .required)
            .field("request_id", .string)
            .create()
        guard let sql = database as? any SQLDatabase else { return }
        switch sql.dialect.name {
        case "sqlite":
            for verb in ["UPDATE", "DELETE"] {
                try await sql.raw("""
                    CREATE TRIGGER audit_events_no_\(unsafeRaw: verb.lowercased()) BEFORE \(unsafeRaw: verb) ON audit_events
                    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END
                    """).run()
            }
        case "postgresql":
            try await sql.raw("""
                CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$
                """).run()
            try await sql.raw("""
                CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
                FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
                """).run()
        default:
            break
        }
        try await sql.raw("CREATE INDEX audit_events_at ON audit_events (at)").run()
        try await sql.raw("CREATE INDEX jobs_claim ON jobs (state, extractor_id, run_after)").run()
        try await sql.raw("CREATE INDEX images_study ON images (study_id, created_at)").run()
        try await sql.raw("CREATE INDEX results_study ON results (study_id)").run()
    }

    public func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase {
            switch sql.dialect.name {
            case "sqlite":
                try await sql.raw("DROP TRIGGER IF EXISTS audit_events_no_update").run()
                try await sql.raw("DROP TRIGGER IF EXISTS audit_events_no_delete").run()
            case "postgresql":
                try await sql.raw("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events").run()
                try await sql.raw("DROP FUNCTION IF EXISTS audit_events_append_only()").run()
            default: break
            }
        }
        for schema in [AuditEvent.schema, IdempotencyRecord.schema, UserNotification.schema] {
            try await database.schema(schema).delete()
        }
    }
}
