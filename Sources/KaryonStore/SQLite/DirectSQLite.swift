import CSQLiteDirect
import FluentKit
import Foundation
import NIOCore
import SQLiteKit
import Synchronization

/// A connection to the embedded SQLite database that runs statements synchronously, on the
/// calling thread, with its prepared statements kept for reuse.
///
/// Fluent's SQLite driver runs every statement on its thread pool and answers on an event loop:
/// two or three thread hand-offs per statement, which on a 2-core machine cost a job's
/// bookkeeping more than SQLite's own work (about 250 µs per statement against tens). Code that
/// already runs on a thread of its own and issues several statements in a row (a worker
/// completing a job and claiming the next) uses this instead. Statements are written once, as
/// SQLKit expressions, and serialised with the dialect of the Fluent database they also run on;
/// values are bound and read with SQLiteKit's own `SQLiteDataEncoder` and `SQLiteDataDecoder`, so
/// rows written here and through Fluent are stored alike and read back the same either way.
///
/// Not for concurrent use: one thread at a time (a worker slot owns one). It uses the SQLite
/// that SQLiteNIO compiles in (`CSQLiteDirect`), never a second copy of the library.
///
/// ## References
/// - SQLite C interface, https://sqlite.org/c3ref/intro.html; "Write-Ahead Logging",
///   https://sqlite.org/wal.html (`synchronous = NORMAL` in WAL mode).
public final class DirectSQLite: @unchecked Sendable {
    /// How a connection commits.
    public enum Durability: Sendable {
        /// Every commit syncs the log (SQLite's default, `synchronous = FULL`).
        case full
        /// Commits do not sync the log; checkpoints do (`synchronous = NORMAL`). A commit can be
        /// undone by a power loss or an operating-system crash, never by a process crash, and the
        /// database stays consistent; a later commit with ``full`` makes earlier ones durable too.
        case normal
    }

    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    private let dialectSource: any SQLDatabase

    /// Opens the database file at `path` (which must exist, in WAL mode, as the server sets it up).
    /// - Parameters:
    ///   - dialect: an SQLite database of SQLKit whose dialect serialises the statements.
    ///   - busyTimeout: how long a statement waits for another connection's write lock (SQLite's
    ///     sleeping handler) before it fails with "database is locked".
    ///   - autoCheckpoint: whether this connection's commits checkpoint the log once it passes
    ///     1,000 pages (SQLite's default); off where a checkpointer of its own runs (the server's).
    /// - Throws: ``DirectSQLiteError`` when the file cannot be opened or `dialect` is not SQLite.
    public init(path: String, dialect: any SQLDatabase, busyTimeout: TimeInterval = 30, durability: Durability = .full,
                autoCheckpoint: Bool = true) throws {
        guard dialect.dialect.name == "sqlite" else {
            throw DirectSQLiteError(status: 0, message: "a direct SQLite connection needs an SQLite dialect, not \(dialect.dialect.name)", context: path)
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw DirectSQLiteError(status: 0, message: "no SQLite database at \(path)", context: path)
        }
        dialectSource = dialect
        var db: OpaquePointer?
        let status = kdb_open(path, KDB_OPEN_READWRITE | KDB_OPEN_FULLMUTEX, &db)
        handle = db
        guard status == KDB_OK, db != nil else {
            let message = db.map { String(cString: kdb_errmsg($0)) } ?? "out of memory"
            close()
            throw DirectSQLiteError(status: status, message: "cannot open the SQLite database at \(path): \(message)", context: path)
        }
        do {
            try check(kdb_busy_timeout(db, Int32(min(max(busyTimeout, 0) * 1000, Double(Int32.max)))), "setting the busy timeout")
            try execute("PRAGMA foreign_keys = ON")
            if durability == .normal { try execute("PRAGMA synchronous = NORMAL") }
            if !autoCheckpoint { try execute("PRAGMA wal_autocheckpoint = 0") }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Finalises the prepared statements and closes the connection (also done on deinit).
    public func close() {
        for statement in statements.values { kdb_finalize(statement) }
        statements.removeAll()
        if let handle { kdb_close(handle) }
        handle = nil
    }

    /// Whether the connection is open and outside any transaction (ready for the next user).
    public var isReady: Bool { handle.map { kdb_get_autocommit($0) != 0 } ?? false }

    /// Runs `body` in one transaction that holds the write lock from its start (`BEGIN
    /// IMMEDIATE`, so no statement inside meets a busy database half-way). Commits when `body`
    /// returns, rolls back when it throws.
    public func transaction<T>(_ body: (DirectSQLite) throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        let value: T
        do {
            value = try body(self)
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        return value
    }

    /// Runs one statement and returns its rows.
    public func rows(_ query: some SQLExpression) throws -> [Row] {
        var serializer = SQLSerializer(database: dialectSource)
        query.serialize(to: &serializer)
        return try rows(serializer.sql, binds: serializer.binds)
    }

    /// Runs one statement, ignoring any rows.
    public func run(_ query: some SQLExpression) throws {
        _ = try rows(query)
    }

    private func execute(_ sql: String) throws {
        guard let handle else { throw Self.closed(sql) }
        try check(kdb_exec(handle, sql), sql)
    }

    private func rows(_ sql: String, binds: [any Encodable & Sendable]) throws -> [Row] {
        // Statements with many parameters (multi-row inserts, each row count its own text) are
        // prepared for one use: cached, they would grow the connection's memory without bound.
        let keep = binds.count <= 100
        let statement = try prepared(sql, keep: keep)
        defer {
            if keep {
                kdb_reset(statement)
                kdb_clear_bindings(statement)
            } else {
                kdb_finalize(statement)
            }
        }
        for (index, value) in binds.enumerated() {
            try check(try Self.bind(value, at: Int32(index + 1), to: statement), "binding parameter \(index + 1)")
        }
        let count = kdb_column_count(statement)
        let columns = (0..<count).map { String(cString: kdb_column_name(statement, $0)) }
        var rows: [Row] = []
        while true {
            let status = kdb_step(statement)
            if status == KDB_DONE { break }
            guard status == KDB_ROW else { try check(status, sql); break }
            rows.append(Row(columns: columns, values: (0..<count).map { Self.value(statement, $0) }))
        }
        return rows
    }

    private func prepared(_ sql: String, keep: Bool) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        guard let handle else { throw Self.closed(sql) }
        var statement: OpaquePointer?
        try check(kdb_prepare(handle, sql, &statement), sql)
        guard let statement else { throw DirectSQLiteError(status: 0, message: "SQLite prepared no statement", context: sql) }
        if keep { statements[sql] = statement }
        return statement
    }

    private static func closed(_ context: String) -> DirectSQLiteError {
        DirectSQLiteError(status: 0, message: "the SQLite connection is closed", context: context)
    }

    private func check(_ status: Int32, _ context: String) throws {
        guard status != KDB_OK, status != KDB_ROW, status != KDB_DONE else { return }
        let message = handle.map { String(cString: kdb_errmsg($0)) } ?? "the connection is closed"
        throw DirectSQLiteError(status: status, message: message, context: context)
    }

    private static let encoder = SQLiteDataEncoder()

    /// Binds `value` as SQLiteKit encodes it for Fluent.
    private static func bind(_ value: any Encodable & Sendable, at index: Int32, to statement: OpaquePointer) throws -> Int32 {
        switch try encoder.encode(value) {
        case .integer(let v): return kdb_bind_int64(statement, index, Int64(v))
        case .float(let v): return kdb_bind_double(statement, index, v)
        case .text(let v): return kdb_bind_text(statement, index, v, Int32(v.utf8.count))
        case .blob(let v): return v.withUnsafeReadableBytes { kdb_bind_blob(statement, index, $0.baseAddress, Int32($0.count)) }
        case .null: return kdb_bind_null(statement, index)
        }
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLiteData {
        switch kdb_column_type(statement, column) {
        case KDB_INTEGER: return .integer(SQLiteInt64(kdb_column_int64(statement, column)))
        case KDB_FLOAT: return .float(kdb_column_double(statement, column))
        case KDB_TEXT: return .text(kdb_column_text(statement, column).map { String(cString: $0) } ?? "")
        case KDB_BLOB:
            let count = Int(kdb_column_bytes(statement, column))
            guard count > 0, let bytes = kdb_column_blob(statement, column) else { return .blob(ByteBuffer()) }
            return .blob(ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }

    /// A result row; decodes as SQLiteKit's rows do.
    public struct Row: SQLRow, Sendable {
        public let columns: [String]
        public let values: [SQLiteData]

        public var allColumns: [String] { columns }

        public func contains(column: String) -> Bool { columns.contains(column) }

        public func decodeNil(column: String) throws -> Bool { try value(column) == .null }

        public func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
            try SQLiteDataDecoder().decode(D.self, from: try value(column))
        }

        func value(_ column: String) throws -> SQLiteData {
            guard let index = columns.firstIndex(of: column) else {
                throw DirectSQLiteError(status: 0, message: "no column \(column) in the row", context: columns.joined(separator: ", "))
            }
            return values[index]
        }
    }
}

/// Why a ``DirectSQLite`` statement failed: SQLite's result code and message. A constraint
/// failure is one as Fluent reports it (`DatabaseError.isConstraintFailure`).
public struct DirectSQLiteError: Error, DatabaseError, CustomStringConvertible, Sendable {
    /// SQLite's (extended) result code, 0 for errors of this wrapper.
    public let status: Int32
    public let message: String
    /// The statement or step that failed.
    public let context: String

    public var isConstraintFailure: Bool { status & 0xFF == 19 }  // SQLITE_CONSTRAINT
    public var isSyntaxError: Bool { status & 0xFF == 1 && message.contains("syntax error") }
    public var isConnectionClosed: Bool { status == 0 && message.contains("closed") }
    public var description: String { "SQLite failed (\(status)): \(message)" }
}

/// Direct connections shared by code on threads that may block (the server's upload
/// transactions): an idle connection is reused, a new one opened when all are in use, and at most
/// `keep` stay open between uses.
public final class DirectSQLitePool: Sendable {
    private let open: @Sendable () throws -> DirectSQLite
    private let state = Mutex<(idle: [DirectSQLite], closed: Bool)>(([], false))
    private let keep: Int

    public init(keep: Int = 8, open: @escaping @Sendable () throws -> DirectSQLite) {
        self.keep = keep
        self.open = open
    }

    /// Runs `body` with a connection of its own, on the caller's (blocking) thread.
    /// - Throws: ``DirectSQLiteError`` when the pool is closed or a connection cannot be opened, or what
    ///   `body` throws.
    public func withConnection<T>(_ body: (DirectSQLite) throws -> T) throws -> T {
        let (reused, closed) = state.withLock { s in (s.closed ? nil : s.idle.popLast(), s.closed) }
        if closed { throw DirectSQLiteError(status: 0, message: "the database connections are closed (the server is stopping)", context: "") }
        let connection = try reused ?? open()
        defer {
            let ready = connection.isReady  // a transaction left open (a failed rollback) is not reused
            let kept = state.withLock { s -> Bool in
                guard ready, !s.closed, s.idle.count < keep else { return false }
                s.idle.append(connection)
                return true
            }
            if !kept { connection.close() }
        }
        return try body(connection)
    }

    /// Closes the idle connections and those in use as they are given back.
    public func close() {
        let idle = state.withLock { s -> [DirectSQLite] in
            s.closed = true
            defer { s.idle.removeAll() }
            return s.idle
        }
        for connection in idle { connection.close() }
    }
}
