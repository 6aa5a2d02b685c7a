import FluentKit
import SQLKit

extension Database {
    /// This database as SQL (SQLite and PostgreSQL both are), for the statements Fluent's query
    /// builder cannot express (atomic claims, `ON CONFLICT`, `RETURNING`).
    /// - Throws: `StoreError.io` naming `user` on a database without SQL.
    public func sql(for user: String) throws -> any SQLDatabase {
        guard let sql = self as? any SQLDatabase else { throw StoreError(.io, "\(user) needs an SQL database") }
        return sql
    }
}
