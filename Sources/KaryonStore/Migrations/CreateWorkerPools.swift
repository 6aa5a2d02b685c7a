import FluentKit
import SQLKit

/// Worker processes and their pools, and what the pipeline needs across processes: an index on
/// finish time (the metrics read jobs that ended), a unique key for
/// notifications that several workers may raise at once, and on PostgreSQL a
/// `NOTIFY karyon_jobs` whenever a job becomes runnable, so idle workers wake at once instead of
/// at their next poll.
public struct CreateWorkerPools: AsyncMigration {
    public init() {}

    public func prepare(on database: any Database) async throws {
        try await database.schema(UserNotification.schema).field("dedupe_key", .string).update()
        try await database.schema("worker_pools")
            .field("id", .string, .identifier(auto: false))
            .field("worker_id", .string, .required)
            .field("extractor_id", .string, .required)
            .field("host", .string, .required)
            .field("pid", .int, .required)
            .field("slots", .int, .required)
            .field("busy", .int, .required)
            .field("min_slots", .int, .required)
            .field("max_slots", .int, .required)
            .field("started_at", .datetime, .required)
            .field("seen_at", .datetime, .required)
            .create()
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.raw("CREATE INDEX jobs_finished ON jobs (finished_at)").run()
        try await sql.raw("CREATE INDEX worker_pools_seen ON worker_pools (seen_at)").run()
        try await sql.raw("CREATE UNIQUE INDEX notifications_dedupe ON notifications (dedupe_key)").run()
        if sql.dialect.name == "postgresql" {
            try await sql.raw("""
                CREATE FUNCTION jobs_notify_runnable() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.state IN ('queued', 'failed') THEN PERFORM pg_notify('karyon_jobs', NEW.extractor_id); END IF;
                  RETURN NULL;
                END $$
                """).run()
            try await sql.raw("""
                CREATE TRIGGER jobs_notify_runnable AFTER INSERT OR UPDATE OF state ON jobs
                FOR EACH ROW EXECUTE FUNCTION jobs_notify_runnable()
                """).run()
        }
    }

    public func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase, sql.dialect.name == "postgresql" {
            try await sql.raw("DROP TRIGGER IF EXISTS jobs_notify_runnable ON jobs").run()
            try await sql.raw("DROP FUNCTION IF EXISTS jobs_notify_runnable()").run()
        }
        try await database.schema("worker_pools").delete()
        if let sql = database as? any SQLDatabase { try await sql.raw("DROP INDEX IF EXISTS notifications_dedupe").run() }
        try await database.schema(UserNotification.schema).deleteField("dedupe_key").update()
        if let sql = database as? any SQLDatabase { try await sql.raw("DROP INDEX IF EXISTS jobs_finished").run() }
    }
}
