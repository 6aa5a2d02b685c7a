import CSQLiteDirect
import Synchronization
import Foundation
import SQLKit

/// A connection to the embedded SQLite database that runs statements synchronously, on the
/// calling thread, with its prepared statements kept for reuse.
///
/// Fluent's SQLite driver runs every statement on its thread pool and answers on an event loop:
/// two or three thread hand-offs per statement, which on a 2-core machine cost a job's
/// bookkeeping more than SQLite's own work (about 250 µs per statement against tens). Code that
/// already runs on a thread of its own and issues several statements in a row (a worker
/// completing a job and claiming the next) uses this instead. Statements are written once, as
/// SQLKit expressions, and serialised with the dialect of the Fluent database they also run on;
/// values are bound as SQLiteNIO binds them (UUIDs as their text, dates as seconds since 1970),
/// so rows written here and through Fluent read back the same either way.
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
    /// - Throws: ``StoreError`` (`.io`) when the file cannot be opened or `dialect` is not SQLite.
    ///   - autoCheckpoint: whether this connection's commits checkpoint the log once it passes
    ///     1,000 pages (SQLite's default); off where a checkpointer of its own runs (the server's).
    public init(path: String, dialect: any SQLDatabase, busyTimeout: TimeInterval = 30, durability: Durability = .full,
                autoCheckpoint: Bool = true) throws {
        guard dialect.dialect.name == "sqlite" else {
            throw StoreError(.io, "a direct SQLite connection needs an SQLite dialect, not \(dialect.dialect.name)")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.io, "no SQLite database at \(path)")
        }
        dialectSource = dialect
        var db: OpaquePointer?
        let status = kdb_open(path, KDB_OPEN_READWRITE | KDB_OPEN_FULLMUTEX, &db)
        handle = db
        guard status == KDB_OK, db != nil else {
            let message = db.map { String(cString: kdb_errmsg($0)) } ?? "out of memory"
            close()
            throw StoreError(.io, "cannot open the SQLite database at \(path)", underlying: message)
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
        guard let handle else { throw StoreError(.io, "the SQLite connection is closed") }
        try check(kdb_exec(handle, sql), sql)
    }

    private func rows(_ sql: String, binds: [any Encodable & Sendable]) throws -> [Row] {
        let statement = try prepared(sql)
        defer {
            kdb_reset(statement)
            kdb_clear_bindings(statement)
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

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        guard let handle else { throw StoreError(.io, "the SQLite connection is closed") }
        var statement: OpaquePointer?
        try check(kdb_prepare(handle, sql, &statement), sql)
        guard let statement else { throw StoreError(.io, "SQLite prepared no statement", underlying: sql) }
        statements[sql] = statement
        return statement
    }

    private func check(_ status: Int32, _ context: String) throws {
        guard status != KDB_OK, status != KDB_ROW, status != KDB_DONE else { return }
        let message = handle.map { String(cString: kdb_errmsg($0)) } ?? "the connection is closed"
        // SQLITE_CONSTRAINT: a uniqueness or foreign-key rule refused the statement.
        throw StoreError(status & 0xFF == 19 ? .conflict : .io, "SQLite failed (\(status)): \(message)", underlying: context)
    }

    /// Binds as SQLiteNIO does (`SQLiteDataConvertible`, and UUIDs through their `Encodable` text).
    private static func bind(_ value: any Encodable & Sendable, at index: Int32, to statement: OpaquePointer) throws -> Int32 {
        switch unwrapped(value) {
        case nil: return kdb_bind_null(statement, index)
        case let v as String: return kdb_bind_text(statement, index, v, Int32(v.utf8.count))
        case let v as UUID:
            let text = v.uuidString
            return kdb_bind_text(statement, index, text, Int32(text.utf8.count))
        case let v as Date: return kdb_bind_double(statement, index, v.timeIntervalSince1970)
        case let v as Bool: return kdb_bind_int64(statement, index, v ? 1 : 0)
        case let v as Int: return kdb_bind_int64(statement, index, Int64(v))
        case let v as Int64: return kdb_bind_int64(statement, index, v)
        case let v as Int32: return kdb_bind_int64(statement, index, Int64(v))
        case let v as Double: return kdb_bind_double(statement, index, v)
        case let v as Float: return kdb_bind_double(statement, index, Double(v))
        case let v as Data: return v.withUnsafeBytes { kdb_bind_blob(statement, index, $0.baseAddress, Int32($0.count)) }
        case let v as [UInt8]: return v.withUnsafeBytes { kdb_bind_blob(statement, index, $0.baseAddress, Int32($0.count)) }
        case let v?: throw StoreError(.invalidInput, "a direct SQLite statement cannot bind a \(type(of: v))")
        }
    }

    /// The value inside any depth of optionals, nil for none.
    private static func unwrapped(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first.flatMap { unwrapped($0.value) }
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> Value {
        switch kdb_column_type(statement, column) {
        case KDB_INTEGER: return .integer(kdb_column_int64(statement, column))
        case KDB_FLOAT: return .float(kdb_column_double(statement, column))
        case KDB_TEXT: return .text(kdb_column_text(statement, column).map { String(cString: $0) } ?? "")
        case KDB_BLOB:
            let count = Int(kdb_column_bytes(statement, column))
            guard count > 0, let bytes = kdb_column_blob(statement, column) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }

    /// One stored value.
    public enum Value: Sendable, Equatable {
        case null
        case integer(Int64)
        case float(Double)
        case text(String)
        case blob([UInt8])
    }

    /// A result row; decodes as SQLiteNIO's rows do (dates from seconds since 1970).
    public struct Row: SQLRow, Sendable {
        public let columns: [String]
        public let values: [Value]

        public var allColumns: [String] { columns }

        public func contains(column: String) -> Bool { columns.contains(column) }

        public func decodeNil(column: String) throws -> Bool { try value(column) == .null }

        public func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
            try ValueDecoder(value: try value(column), column: column).decode(D.self)
        }

        func value(_ column: String) throws -> Value {
            guard let index = columns.firstIndex(of: column) else {
                throw DecodingError.keyNotFound(SQLCodingKey(column), .init(codingPath: [], debugDescription: "no column \(column) in the row"))
            }
            return values[index]
        }
    }

    private struct SQLCodingKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes one column's value: scalars directly, dates from seconds since 1970 (as SQLiteNIO
    /// stores them), anything else (UUID, optionals) through its single-value `Decodable` form.
    private struct ValueDecoder: Decoder, SingleValueDecodingContainer {
        let value: Value
        let column: String
        var codingPath: [any CodingKey] { [SQLCodingKey(column)] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            throw mismatch("a keyed container")
        }
        func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw mismatch("an unkeyed container") }
        func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

        func decodeNil() -> Bool { value == .null }

        func decode(_ type: Bool.Type) throws -> Bool { try decode(Int64.self) != 0 }
        func decode(_ type: String.Type) throws -> String {
            guard case .text(let text) = value else { throw mismatch("text") }
            return text
        }
        func decode(_ type: Double.Type) throws -> Double {
            switch value {
            case .float(let v): return v
            case .integer(let v): return Double(v)
            default: throw mismatch("a number")
            }
        }
        func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
        func decode(_ type: Int64.Type) throws -> Int64 {
            switch value {
            case .integer(let v): return v
            case .float(let v) where v.rounded() == v && abs(v) < 9.2e18: return Int64(v)
            default: throw mismatch("an integer")
            }
        }
        func decode(_ type: Int.Type) throws -> Int { Int(try decode(Int64.self)) }
        func decode(_ type: Int8.Type) throws -> Int8 { try narrow(Int8.self) }
        func decode(_ type: Int16.Type) throws -> Int16 { try narrow(Int16.self) }
        func decode(_ type: Int32.Type) throws -> Int32 { try narrow(Int32.self) }
        func decode(_ type: UInt.Type) throws -> UInt { try narrow(UInt.self) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try narrow(UInt8.self) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try narrow(UInt16.self) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try narrow(UInt32.self) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try narrow(UInt64.self) }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            if T.self == Date.self {
                // Rounded to microseconds, as SQLiteNIO does, so dates compare equal either way.
                let since1970 = try decode(Double.self)
                let sinceReference = since1970 - Date.timeIntervalBetween1970AndReferenceDate
                return Date(timeIntervalSinceReferenceDate: (sinceReference * 1e6).rounded() / 1e6) as! T
            }
            if T.self == Data.self, case .blob(let bytes) = value { return Data(bytes) as! T }
            if T.self == [UInt8].self, case .blob(let bytes) = value { return bytes as! T }
            return try T(from: self)
        }

        private func narrow<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
            guard let v = I(exactly: try decode(Int64.self)) else { throw mismatch("an integer that fits \(I.self)") }
            return v
        }

        private func mismatch(_ wanted: String) -> DecodingError {
            .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "column \(column) holds \(value), not \(wanted)"))
        }
    }
}

/// Direct connections shared by code on a blocking thread pool (the server's upload
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
    /// - Throws: ``StoreError`` when the pool is closed or a connection cannot be opened, or what
    ///   `body` throws.
    public func withConnection<T>(_ body: (DirectSQLite) throws -> T) throws -> T {
        let (reused, closed) = state.withLock { s in (s.closed ? nil : s.idle.popLast(), s.closed) }
        if closed { throw StoreError(.io, "the database connections are closed (the server is stopping)") }
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
