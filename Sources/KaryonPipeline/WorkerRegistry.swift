import FluentKit
import Foundation
import KaryonStore
import SQLKit

/// The live worker pools of every process (this machine or others), in the `worker_pools` table:
/// each pool writes its size and busy slots at every scaling tick, so the API and `/metrics` can
/// report pool sizes per extractor wherever the workers run. A row not refreshed within
/// ``staleAfter`` belongs to a process that died and no longer counts.
public struct WorkerRegistry: Sendable {
    public let database: any Database
    public var staleAfter: TimeInterval = 30

    public init(database: any Database) {
        self.database = database
    }

    /// One pool as it reported itself.
    public struct Pool: Sendable, Equatable {
        public var id: String
        public var workerID: String
        public var extractorID: String
        public var host: String
        public var pid: Int
        public var slots: Int
        public var busy: Int
        public var minSlots: Int
        public var maxSlots: Int
        public var startedAt: Date
        public var seenAt: Date

        public init(workerID: String, extractorID: String, host: String, pid: Int, slots: Int, busy: Int, minSlots: Int, maxSlots: Int,
                    startedAt: Date, seenAt: Date) {
            self.id = "\(workerID)|\(extractorID)"
            self.workerID = workerID
            self.extractorID = extractorID
            self.host = host
            self.pid = pid
            self.slots = slots
            self.busy = busy
            self.minSlots = minSlots
            self.maxSlots = maxSlots
            self.startedAt = startedAt
            self.seenAt = seenAt
        }
    }

    var sql: any SQLDatabase {
        get throws { try database.sql(for: "the worker registry") }
    }

    /// Inserts or refreshes a pool's row.
    public func report(_ pool: Pool) async throws {
        try await sql.raw("""
            INSERT INTO worker_pools (id, worker_id, extractor_id, host, pid, slots, busy, min_slots, max_slots, started_at, seen_at)
            VALUES (\(bind: pool.id), \(bind: pool.workerID), \(bind: pool.extractorID), \(bind: pool.host), \(bind: pool.pid),
                    \(bind: pool.slots), \(bind: pool.busy), \(bind: pool.minSlots), \(bind: pool.maxSlots), \(bind: pool.startedAt),
                    \(bind: pool.seenAt))
            ON CONFLICT (id) DO UPDATE SET slots = excluded.slots, busy = excluded.busy, seen_at = excluded.seen_at
            """).run()
    }

    /// Removes a pool's row (a pool that stopped cleanly).
    public func remove(id: String) async throws {
        try await sql.raw("DELETE FROM worker_pools WHERE id = \(bind: id)").run()
    }

    /// Pools seen within ``staleAfter``; rows older than an hour are deleted on the way.
    public func live(now: Date = Date()) async throws -> [Pool] {
        let sql = try self.sql
        try await sql.raw("DELETE FROM worker_pools WHERE seen_at < \(bind: now.addingTimeInterval(-3600))").run()
        let rows = try await sql.raw("""
            SELECT id, worker_id, extractor_id, host, pid, slots, busy, min_slots, max_slots, started_at, seen_at FROM worker_pools
            WHERE seen_at >= \(bind: now.addingTimeInterval(-staleAfter)) ORDER BY extractor_id, worker_id
            """).all()
        return try rows.map { row in
            Pool(workerID: try row.decode(column: "worker_id", as: String.self), extractorID: try row.decode(column: "extractor_id", as: String.self),
                 host: try row.decode(column: "host", as: String.self), pid: try row.decode(column: "pid", as: Int.self),
                 slots: try row.decode(column: "slots", as: Int.self), busy: try row.decode(column: "busy", as: Int.self),
                 minSlots: try row.decode(column: "min_slots", as: Int.self), maxSlots: try row.decode(column: "max_slots", as: Int.self),
                 startedAt: try row.decode(column: "started_at", as: Date.self), seenAt: try row.decode(column: "seen_at", as: Date.self))
        }
    }

    /// Per extractor: job slots and busy slots summed over live pools, and how many processes.
    public struct Summary: Sendable, Equatable {
        public var slots = 0
        public var busy = 0
        public var processes = 0

        public init(slots: Int = 0, busy: Int = 0, processes: Int = 0) {
            self.slots = slots
            self.busy = busy
            self.processes = processes
        }
    }

    public func summary(now: Date = Date()) async throws -> [String: Summary] {
        try await live(now: now).reduce(into: [:]) { totals, pool in
            totals[pool.extractorID, default: Summary()].slots += pool.slots
            totals[pool.extractorID, default: Summary()].busy += pool.busy
            totals[pool.extractorID, default: Summary()].processes += 1
        }
    }
}
