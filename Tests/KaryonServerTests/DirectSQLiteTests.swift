import Fluent
import Foundation
import KaryonPipeline
import KaryonStore
import SQLKit
import Synchronization
import Testing
@testable import KaryonServer

@Suite("Direct SQLite connections: the queue's statements without the driver, same rows, same guarantees")
struct DirectSQLiteTests {
    /// A server with one study (`intensity` and `color`) and `images` uploaded, and a queue whose
    /// slots may open direct connections.
    func seeded(_ server: TestServer, images: Int) async throws -> JobQueue {
        let (token, _) = try await server.account("direct-sql@lab.example")
        let (_, _, study) = try await server.records(token: token, extractors: [["id": "intensity"], ["id": "color"]])
        let files = try (0..<images).map { ("f\($0).png", try TestImages.png(seed: 400 + $0)) }
        #expect(try await server.upload(files, study: study, token: token).status == .created)
        let parts = try #require(server.parts)
        let path = try #require(parts.sqlitePath)
        return JobQueue(database: server.app.db, policy: .init(lease: 30), directSQLitePath: path)
    }

    @Test("completing and claiming on a direct connection writes what the driver writes; fencing and duplicates hold")
    func completeAndClaim() async throws {
        try await TestServer.with { server in
            let queue = try await seeded(server, images: 3)
            let connection = try #require(try queue.openDirectConnection())
            defer { connection.close() }
            let output = JobQueue.Output(features: #"{"mean": 1.5}"#, artefacts: "[]", inputSHA256: "abc")
            let t0 = Date(timeIntervalSinceReferenceDate: Date().timeIntervalSinceReferenceDate.rounded() + 1.5)  // exact in both epochs
            let first = try #require(try await queue.claim(extractors: ["intensity"], worker: "w1", now: t0))
            let (stored, second) = try queue.complete(first, output: output, thenClaim: ["intensity"], worker: "w1/0", now: t0, on: connection)
            #expect(stored == .stored)
            let next = try #require(second)
            #expect(next.id != first.id && next.extractorID == "intensity" && next.attempt == 1)

            // Read back through Fluent: the claim, the finished job and the result, dates to the microsecond.
            let claimed = try #require(try await Job.find(next.id, on: server.app.db))
            #expect(claimed.state == "running" && claimed.workerID == "w1/0" && claimed.attemptToken == next.attemptToken)
            #expect(claimed.leaseExpiresAt == t0.addingTimeInterval(30) && claimed.claimedAt == t0)
            let finished = try #require(try await Job.find(first.id, on: server.app.db))
            #expect(finished.state == "succeeded" && finished.finishedAt == t0 && finished.leaseExpiresAt == nil)
            let result = try #require(try await ResultRecord.query(on: server.app.db).filter(\.$jobID == first.id).first())
            #expect(result.imageID == first.imageID && result.studyID == first.studyID && result.features == output.features)
            #expect(result.parameterHash == first.parameterHash && result.createdAt == t0 && result.inputSHA256 == "abc")

            // The stale attempt is fenced and still claims; the driver sees the same queue.
            let (fenced, third) = try queue.complete(first, output: output, thenClaim: ["intensity"], worker: "w1/0", now: t0, on: connection)
            #expect(fenced == .fenced)
            let last = try #require(third)
            #expect(try await queue.claim(extractors: ["intensity"], worker: "w2") == nil, "all three intensity jobs are claimed")
            #expect(try await queue.complete(last, output: output) == .stored)
            #expect(try queue.complete(next, output: output, thenClaim: [], worker: "w1/0", on: connection).next == nil)
            #expect(try await ResultRecord.query(on: server.app.db).count() == 3)

            // The image a job names, read on the connection, is the image Fluent reads.
            let image = try #require(try await ImageRecord.find(first.imageID, on: server.app.db))
            let direct = try #require(try ImageRecord.findDirectly(first.imageID, on: connection))
            #expect(try DirectDecodingTests.text(direct) == DirectDecodingTests.text(image))
            #expect(try ImageRecord.findDirectly(UUID(), on: connection) == nil)
        }
    }

    @Test("slots on direct connections and a claimer through the driver, racing: every job runs exactly once")
    func racingSlots() async throws {
        try await TestServer.with { server in
            let queue = try await seeded(server, images: 8)
            let output = JobQueue.Output(features: "{}", inputSHA256: "abc")
            let ran = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for w in 0..<3 {
                    group.addTask {
                        try await JobRunner.offload {
                            let connection = try #require(try queue.openDirectConnection())
                            defer { connection.close() }
                            var mine: [UUID] = []
                            // The first claim through the driver, then each with the last completion.
                            var job = try runBlocking { try await queue.claim(extractors: ["color"], worker: "d\(w)") }
                            while let current = job {
                                mine.append(current.id)
                                job = try queue.complete(current, output: output, thenClaim: ["color"], worker: "d\(w)", on: connection).next
                            }
                            return mine
                        }
                    }
                }
                group.addTask { try await queue.drain("color", worker: "f", output: output) }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(ran.count == 8 && Set(ran).count == 8)
            #expect(try await ResultRecord.query(on: server.app.db).filter(\.$extractorID == "color").count() == 8)
        }
    }

    @Test("a failing statement rolls the transaction back; a held write lock is waited for, then reported; bad input is refused")
    func failures() async throws {
        try await TestServer.with { server in
            let queue = try await seeded(server, images: 1)
            let path = try #require(queue.directSQLitePath)
            let dialect = try server.app.db.sql(for: "test")
            let a = try DirectSQLite(path: path, dialect: dialect, busyTimeout: 0.3)
            let b = try DirectSQLite(path: path, dialect: dialect, busyTimeout: 0.3)
            defer { a.close(); b.close() }
            let job = try #require(try await Job.query(on: server.app.db).first())
            let id = try #require(job.id)

            // Rolled back: the update inside a transaction that then fails leaves the row as it was.
            #expect(throws: DirectSQLiteError.self) {
                try a.transaction { db in
                    try db.run("UPDATE jobs SET state = 'dead' WHERE id = \(bind: id)" as SQLQueryString)
                    try db.run("UPDATE no_such_table SET x = 1" as SQLQueryString)
                }
            }
            #expect(try await Job.find(id, on: server.app.db)?.state == "queued")
            #expect(a.isReady, "no transaction is left open after a rollback")

            // B holds the write lock: A waits its busy timeout, then fails clearly; later it succeeds.
            let started = Date()
            let error = #expect(throws: DirectSQLiteError.self) {
                try b.transaction { held in
                    #expect(!held.isReady)
                    try a.run("UPDATE jobs SET updated_at = \(bind: Date()) WHERE id = \(bind: id)" as SQLQueryString)
                }
            }
            #expect(Date().timeIntervalSince(started) >= 0.25)
            #expect(error?.message.contains("locked") == true, "\(String(describing: error))")
            try a.run("UPDATE jobs SET updated_at = \(bind: Date()) WHERE id = \(bind: id)" as SQLQueryString)

            // Values bound as SQLiteKit binds them (a list as JSON text), syntax errors, a file that is not there.
            let list = try #require(try a.rows("SELECT \(bind: [1, 2]) AS v" as SQLQueryString).first)
            #expect(try list.decode(column: "v", as: String.self) == "[1,2]")
            let syntax = #expect(throws: DirectSQLiteError.self) { try a.run("SELEC 1" as SQLQueryString) }
            #expect(syntax?.isSyntaxError == true && syntax?.isConstraintFailure == false)
            #expect(throws: DirectSQLiteError.self) { _ = try DirectSQLite(path: path + ".missing", dialect: dialect) }
            #expect(try JobQueue(database: server.app.db).openDirectConnection() == nil, "no path: the driver only")

            // A pool reuses an idle connection, and refuses once closed.
            let opened = Mutex(0)
            let pool = DirectSQLitePool(keep: 1) {
                opened.withLock { $0 += 1 }
                return try DirectSQLite(path: path, dialect: dialect)
            }
            let first = try pool.withConnection { ObjectIdentifier($0) }
            #expect(try pool.withConnection { ObjectIdentifier($0) } == first && opened.withLock { $0 } == 1)
            pool.close()
            #expect(throws: DirectSQLiteError.self) { try pool.withConnection { _ in } }
        }
    }
}

extension DirectSQLiteTests {
    @Test("an upload's rows: images, a job per subscription, audit and idempotency in one transaction; the same image again is a conflict that leaves nothing",
          arguments: TestDatabase.all)
    func uploadRows(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, userText) = try await server.account("rows@lab.example")
            let user = try #require(UUID(uuidString: userText))
            let (_, _, studyText) = try await server.records(token: token, extractors: [["id": "intensity"], ["id": "color"]])
            let study = try #require(try await Study.find(UUID(uuidString: studyText), on: server.app.db))
            let studyID = try study.requireID()
            func rows(_ sha: String, key: String) -> UploadRows {
                let record = ImageRecord(studyID: studyID, projectID: study.projectID, blobID: UUID(), sha256: sha, byteSize: 10, width: 2,
                                         height: 2, channels: 3, bitDepth: 8, format: "png", pixelSize: 0.5, originalName: "a.png",
                                         createdBy: user)
                let event = AuditEvent(actorID: user, tokenID: nil, action: "image.upload", resourceType: "image",
                                       resourceID: record.id?.uuidString.lowercased(), outcome: .success, requestID: "r")
                return UploadRows(studyID: studyID, records: [record], audit: [event],
                                  idempotency: IdempotencyRecord(userID: user, key: key, requestHash: "h", status: 201, response: "{}"))
            }
            // SQLite: on a direct connection, as uploads run there; PostgreSQL: through Fluent.
            let path = database == .sqlite ? server.parts?.sqlitePath : nil
            func store(_ upload: UploadRows) async throws -> [String] {
                if let path {
                    let connection = try DirectSQLite(path: path, dialect: try server.app.db.sql(for: "test"))
                    defer { connection.close() }
                    return try connection.transaction { try upload.store(on: $0) }
                }
                return try await server.app.db.transaction { try await upload.store(on: $0) }
            }
            #expect(try await store(rows("aa", key: "k1")) == ["intensity", "color"])
            do {
                _ = try await store(rows("aa", key: "k2"))
                Issue.record("the same image twice in one study must be refused")
            } catch {
                #expect((error as? any DatabaseError)?.isConstraintFailure == true, "\(error)")
            }
            let db = server.app.db
            #expect(try await ImageRecord.query(on: db).count() == 1)
            #expect(try await Job.query(on: db).count() == 2)
            #expect(try await IdempotencyRecord.query(on: db).count() == 1)
            #expect(try await AuditEvent.query(on: db).filter(\.$action == "image.upload").count() == 1)
            let event = try #require(try await AuditEvent.query(on: db).filter(\.$action == "image.upload").first())
            #expect(event.outcome == "success" && event.actorID == user && event.requestID == "r")
        }
    }
}

extension DirectSQLiteTests {
    /// Each column's storage class and SQL literal (`typeof`, `quote`) of row `id` of `table`.
    static func storage(_ table: String, _ columns: [String], id: UUID, on connection: DirectSQLite) throws -> [String: String] {
        var out: [String: String] = [:]
        for column in columns {
            let row = try #require(try connection.rows(
                "SELECT typeof(\(ident: column)) AS t, quote(\(ident: column)) AS q FROM \(ident: table) WHERE id = \(bind: id)" as SQLQueryString).first)
            out[column] = try row.decode(column: "t", as: String.self) + " " + row.decode(column: "q", as: String.self)
        }
        return out
    }

    @Test("rows inserted on a direct connection are stored exactly as Fluent stores them: storage class and value of every column")
    func sameStorage() async throws {
        try await TestServer.with { server in
            let (token, userText) = try await server.account("storage@lab.example")
            let user = try #require(UUID(uuidString: userText))
            let (_, _, studyText) = try await server.records(token: token)
            let db = server.app.db
            let study = try #require(try await Study.find(UUID(uuidString: studyText), on: db))
            let path = try #require(server.parts?.sqlitePath)
            let connection = try DirectSQLite(path: path, dialect: try db.sql(for: "test"))
            defer { connection.close() }
            #expect(Set(AuditEvent.columns) == Set(AuditEvent.keys.map(\.description)))
            #expect(Set(IdempotencyRecord.columns) == Set(IdempotencyRecord.keys.map(\.description)))
            let when = Date(timeIntervalSince1970: 1_790_000_000.123456)

            func image(_ sha: String, _ name: String?, _ size: Double?) -> ImageRecord {
                ImageRecord(studyID: study.id!, projectID: study.projectID, blobID: UUID(), sha256: sha, byteSize: 1234, width: 640,
                            height: 480, channels: 3, bitDepth: 8, format: "png", pixelSize: size, originalName: name, createdBy: user,
                            createdAt: when)
            }
            for (name, size) in [("field ü.png", 0.25), (nil, nil)] as [(String?, Double?)] {
                let (viaFluent, direct) = (image("a\(name ?? "")", name, size), image("b\(name ?? "")", name, size))
                try await viaFluent.create(on: db)
                try ImageRecord.insert([direct], on: connection)
                var a = try Self.storage("images", ImageRecord.columns, id: viaFluent.id!, on: connection)
                var b = try Self.storage("images", ImageRecord.columns, id: direct.id!, on: connection)
                for key in ["id", "sha256", "blob_id"] { a[key] = nil; b[key] = nil }
                #expect(a == b)
            }
            let events = (0..<2).map { _ in
                AuditEvent(at: when, actorID: user, tokenID: nil, action: "image.upload", resourceType: "image", resourceID: "x",
                           outcome: .success, requestID: nil)
            }
            try await events[0].create(on: db)
            try AuditEvent.insert([events[1]], on: connection)
            var a = try Self.storage("audit_events", AuditEvent.columns, id: events[0].id!, on: connection)
            var b = try Self.storage("audit_events", AuditEvent.columns, id: events[1].id!, on: connection)
            a["id"] = nil; b["id"] = nil
            #expect(a == b && a["token_id"] == "null NULL" && a["at"]?.hasPrefix("real ") == true)
            let keys = ["k1", "k2"].map { IdempotencyRecord(userID: user, key: $0, requestHash: "h", status: 201, response: "{}", createdAt: when) }
            try await keys[0].create(on: db)
            try IdempotencyRecord.insert([keys[1]], on: connection)
            a = try Self.storage("idempotency_keys", IdempotencyRecord.columns, id: keys[0].id!, on: connection)
            b = try Self.storage("idempotency_keys", IdempotencyRecord.columns, id: keys[1].id!, on: connection)
            for key in ["id", "key"] { a[key] = nil; b[key] = nil }
            #expect(a == b && a["status"] == "integer 201")
        }
    }
}

/// Runs async work from a thread that is not part of the cooperative pool, waiting for it.
private func runBlocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<T, any Error>?
    Task {
        do { result = .success(try await work()) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try result!.get()
}
