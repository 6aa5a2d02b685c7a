import Foundation
import SQLKit
import Testing
import Vapor
@testable import KaryonServer

@Suite("SQLite checkpoints run off the commit path")
struct WALCheckpointTests {
    @Test("request connections never checkpoint; the checkpointer copies the log into the database file within seconds")
    func checkpointer() async throws {
        try await TestServer.with { server in
            let sql = try #require(server.app.db as? any SQLDatabase)
            let setting = try await sql.raw("PRAGMA wal_autocheckpoint").first()
            #expect(try setting?.decode(column: "wal_autocheckpoint", as: Int.self) == 0)
            try await sql.raw("CREATE TABLE scratch (x TEXT)").run()
            let path = server.configuration.sqlitePath
            func size(_ p: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int) ?? 0 }
            let before = size(path)
            // About 2 MB of new pages, in 50 commits: far past SQLite's automatic threshold of
            // 1,000 pages, which the request connections must not act on.
            let text = String(repeating: "k", count: 4000)
            for _ in 0..<50 {
                try await sql.raw("INSERT INTO scratch (x) SELECT \(bind: text) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10)").run()
            }
            #expect(size(path) == before, "a request connection checkpointed")
            #expect(size(path + "-wal") > 2_000_000)
            try await server.app.asyncBoot()  // starts the lifecycle handlers, the checkpointer among them
            var after = before
            for _ in 0..<50 where after < before + 2_000_000 {
                try await Task.sleep(for: .milliseconds(100))
                after = size(path)
            }
            #expect(after >= before + 2_000_000, "the log was not copied into the database: \(before) → \(after) bytes")
            let count = try await sql.raw("SELECT COUNT(*) AS n FROM scratch").first()?.decode(column: "n", as: Int.self)
            #expect(count == 500)
        }
    }
}
