import Fluent
import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonStore
import KaryonTestSupport
import Testing
import Vapor
@testable import KaryonServer

@Suite("Uploads, encrypted storage, downloads and results")
struct UploadTests {
    @Test("upload two images: 201, rows and one job per subscription, bytes round-trip", arguments: TestDatabase.all)
    func uploadAndDownload(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("up@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: [["id": "intensity"], ["id": "color"]])
            let first = try TestImages.png(seed: 1)
            let second = try TestImages.png(width: 40, height: 10, seed: 2)
            let reply = try await server.upload([("one.png", first), ("two.png", second)], study: study, token: token)
            #expect(reply.status == .created, "\(reply.text)")
            let images = reply.object["images"] as? [[String: Any]] ?? []
            #expect(images.count == 2)
            #expect(images.map { $0["width"] as? Int } == [32, 40])
            #expect(images.first?["sha256"] as? String == sha256Hex(first))
            #expect(try await ImageRecord.query(on: server.app.db).count() == 2)
            let jobs = try await Job.query(on: server.app.db).all()
            #expect(jobs.count == 4)
            #expect(Set(jobs.map(\.extractorID)) == ["intensity", "color"])
            #expect(jobs.allSatisfy { $0.state == "queued" })
            let id = try #require(images.first?["id"] as? String)
            let file = try await server.send(.GET, "/api/v1/images/\(id)/file", token: token)
            #expect(file.status == .ok)
            #expect([UInt8](file.body) == first)
            #expect(file.headers.contentType?.description.hasPrefix("image/png") == true)
            let thumb = try await server.send(.GET, "/api/v1/images/\(id)/thumbnail?size=16", token: token)
            #expect(thumb.status == .ok)
            let header = try ImageCodec.probe(data: [UInt8](thumb.body))
            #expect(header.width == 16 && header.height == 12)
            let studyReply = try await server.send(.GET, "/api/v1/studies/\(study)", token: token)
            #expect(studyReply.object["status"] as? String == "queued")
            #expect(studyReply.object["progress"] as? Int == 0)
            let results = try await server.send(.GET, "/api/v1/images/\(id)/results", token: token)
            #expect(results.array.count == 2)
            #expect(results.array.allSatisfy { $0["status"] as? String == "queued" && $0["features"] is NSNull })
        }
    }

    @Test("re-uploading the same bytes is a duplicate; Idempotency-Key replays the first answer")
    func duplicatesAndIdempotency() async throws {
        try await TestServer.with { server in
            let (token, _) = try await server.account("idem@lab.example")
            let (_, _, study) = try await server.records(token: token)
            let bytes = try TestImages.png(seed: 3)
            let first = try await server.upload([("x.png", bytes)], study: study, token: token, headers: [("Idempotency-Key", "batch-1")])
            #expect(first.status == .created)
            let replay = try await server.upload([("x.png", bytes)], study: study, token: token, headers: [("Idempotency-Key", "batch-1")])
            #expect(replay.status == .created)
            #expect(replay.headers.first(name: "Idempotent-Replayed") == "true")
            #expect((replay.object["images"] as? [[String: Any]])?.first?["id"] as? String == (first.object["images"] as? [[String: Any]])?.first?["id"] as? String)
            let reused = try await server.upload([("y.png", try TestImages.png(seed: 4))], study: study, token: token, headers: [("Idempotency-Key", "batch-1")])
            #expect(reused.status == .unprocessableEntity)
            let again = try await server.upload([("x-again.png", bytes)], study: study, token: token)
            #expect(again.status == .ok)
            #expect((again.object["images"] as? [[String: Any]])?.first?["duplicate"] as? Bool == true)
            #expect(try await ImageRecord.query(on: server.app.db).count() == 1)
            #expect(try await Job.query(on: server.app.db).count() == 1)
        }
    }

    @Test("the same file uploaded four times at once (a user's upload limit): one image, one set of jobs, no blob left over", arguments: TestDatabase.all)
    func simultaneousDuplicates(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let parts = try #require(server.parts)
            #expect((parts.sqlitePath != nil) == (database == .sqlite), "SQLite uploads take the direct-connection path")
            let (token, _) = try await server.account("race@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: [["id": "intensity"], ["id": "color"]])
            let bytes = try TestImages.png(seed: 11)
            let replies = try await withThrowingTaskGroup(of: TestServer.Reply.self) { group in
                for i in 0..<4 { group.addTask { try await server.upload([("copy-\(i).png", bytes)], study: study, token: token) } }
                return try await group.reduce(into: [TestServer.Reply]()) { $0.append($1) }
            }
            // The first commit wins (201). The others either saw it, or lost the race on the
            // (study, SHA-256) constraint, deleted their blob and looked again: 200, a duplicate of
            // the same image, either way.
            #expect(replies.map(\.status.code).sorted() == [200, 200, 200, 201], "\(replies.map(\.text))")
            let ids = Set(replies.compactMap { ($0.object["images"] as? [[String: Any]])?.first?["id"] as? String })
            #expect(ids.count == 1)
            #expect(replies.filter { ($0.object["images"] as? [[String: Any]])?.first?["duplicate"] as? Bool == true }.count == 3)
            let images = try await ImageRecord.query(on: server.app.db).all()
            #expect(images.count == 1)
            #expect(try await Job.query(on: server.app.db).count() == 2)
            #expect(try parts.blobs.allIDs() == images.map(\.blobID), "a losing upload's blob is deleted, not left as an orphan")
            #expect(try parts.blobs.get(try #require(images.first).blobID) == Data(bytes))
        }
    }

    @Test("bad uploads are refused whole, with nothing stored: not an image, bomb, truncated header, wrong type, too large, empty, cut-off multipart")
    func badUploads() async throws {
        try await TestServer.with(adjust: { $0.uploadLimitBytes = 256 << 10; $0.pixelLimit = 10_000_000 }) { server in
            let (token, _) = try await server.account("bad@lab.example")
            let (_, _, study) = try await server.records(token: token)
            let good = try TestImages.png(seed: 5)
            let text = try await server.upload([("good.png", good), ("notes.png", Array("hello, not an image".utf8))], study: study, token: token)
            #expect(text.status == .unprocessableEntity)
            #expect(text.errorCode == "invalid_image")
            let bombBytes = try #require(FileManager.default.contents(atPath: Fixtures.path("imaging/bomb-100000.png")))
            let bomb = try await server.upload([("bomb.png", [UInt8](bombBytes))], study: study, token: token)
            #expect(bomb.status == .unprocessableEntity)
            #expect(bomb.errorCode == "image_too_large", "\(bomb.text)")
            let cut = try await server.upload([("cut.png", Array(good.prefix(20)))], study: study, token: token)
            #expect(cut.status == .unprocessableEntity)
            let empty = try await server.upload([("empty.png", [])], study: study, token: token)
            #expect(empty.status == .unprocessableEntity)
            let huge = try await server.upload([("huge.png", [UInt8](repeating: 1, count: 300 << 10))], study: study, token: token)
            #expect(huge.status == .payloadTooLarge)
            let json = try await server.send(.POST, "/api/v1/studies/\(study)/images", token: token, json: ["file": "x"])
            #expect(json.status == .unsupportedMediaType)
            // A good first file, then a body cut off before the close delimiter: nothing is kept.
            var cutBody = Data("--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n".utf8)
            cutBody.append(contentsOf: good)
            cutBody.append(Data("\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.png\"\r\n\r\n".utf8))
            cutBody.append(contentsOf: good.prefix(40))
            let truncated = try await server.send(.POST, "/api/v1/studies/\(study)/images", token: token, rawBody: cutBody,
                                                  contentType: "multipart/form-data; boundary=xyz")
            #expect(truncated.status == .badRequest)
            #expect(truncated.errorCode == "malformed_multipart", "\(truncated.text)")
            #expect(try await ImageRecord.query(on: server.app.db).count() == 0)
            #expect(try await Job.query(on: server.app.db).count() == 0)
            let blobs = filesUnder((server.directory as NSString).appendingPathComponent("blobs"))
            #expect(blobs.isEmpty, "\(blobs.map(\.path))")
        }
    }

    @Test("no plaintext on disk; a tampered blob is refused and audited; deleting the patient shreds its blobs")
    func healthDataAtRest() async throws {
        try await TestServer.with { server in
            let started = Date()
            let (token, _) = try await server.account("rest@lab.example")
            let (_, patient, study) = try await server.records(token: token)
            let marker = "KARYON-MARKER-\(UUID().uuidString)"
            let bytes = try TestImages.png(withMarker: marker)
            let reply = try await server.upload([("marked.png", bytes)], study: study, token: token)
            #expect(reply.status == .created, "\(reply.text)")
            let id = try #require((reply.object["images"] as? [[String: Any]])?.first?["id"] as? String)
            let downloaded = try await server.send(.GET, "/api/v1/images/\(id)/file", token: token)
            #expect([UInt8](downloaded.body) == bytes)

            let files = filesUnder(server.directory) + recentFilesUnder(NSTemporaryDirectory(), since: started)
            for file in files {
                #expect(file.bytes.range(of: Data(marker.utf8)) == nil, "marker found in \(file.path)")
                #expect(file.bytes.range(of: Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])) == nil || !file.path.contains("/blobs/"),
                        "PNG signature in \(file.path)")
            }

            let record = try #require(try await ImageRecord.find(UUID(uuidString: id), on: server.app.db))
            let blobFiles = filesUnder((server.directory as NSString).appendingPathComponent("blobs"))
                .filter { $0.path.contains(record.blobID.uuidString.lowercased()) || $0.path.contains(record.blobID.uuidString) }
                .filter { $0.path.hasSuffix(".blob") }
            let blobFile = try #require(blobFiles.first)
            var tampered = blobFile.bytes
            tampered[tampered.count - 40] ^= 0x01
            try tampered.write(to: URL(fileURLWithPath: blobFile.path))
            let refused = try await server.send(.GET, "/api/v1/images/\(id)/file", token: token)
            #expect(refused.status == .internalServerError)
            #expect(refused.errorCode == "integrity_error")
            #expect(refused.body.range(of: Data(marker.utf8)) == nil)
            let failures = try await AuditEvent.query(on: server.app.db).filter(\.$action == "image.download").filter(\.$outcome == "failure").count()
            #expect(failures == 1)

            #expect(try await server.send(.DELETE, "/api/v1/patients/\(patient)", token: token).status == .noContent)
            #expect(filesUnder((server.directory as NSString).appendingPathComponent("blobs")).filter { $0.path.hasSuffix(".blob") }.isEmpty)
            #expect(try await ImageRecord.query(on: server.app.db).count() == 0)
            #expect(try await AuditEvent.query(on: server.app.db).filter(\.$action == "patient.delete").count() == 1)
        }
    }

    @Test("results: stored features appear per image and in the study's CSV; progress follows the jobs")
    func resultsAndProgress() async throws {
        try await TestServer.with { server in
            let (token, _) = try await server.account("res@lab.example")
            let (_, _, study) = try await server.records(token: token)
            let reply = try await server.upload([("a.png", try TestImages.png(seed: 1)), ("b.png", try TestImages.png(seed: 2))], study: study, token: token)
            let ids = (reply.object["images"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            let jobs = try await Job.query(on: server.app.db).sort(\.$createdAt).all()
            #expect(jobs.count == 2)
            let first = try #require(jobs.first { $0.imageID.api == ids[0] })
            first.state = "succeeded"
            try await first.save(on: server.app.db)
            try await ResultRecord(imageID: first.imageID, studyID: first.studyID, jobID: first.id, extractorID: first.extractorID,
                                   extractorVersion: first.extractorVersion, parameters: first.parameters, parameterHash: first.parameterHash,
                                   inputSHA256: "x", features: #"{"mean_r": 0.25, "count": 3}"#).create(on: server.app.db)
            let studyReply = try await server.send(.GET, "/api/v1/studies/\(study)", token: token)
            #expect(studyReply.object["progress"] as? Int == 50)
            #expect(studyReply.object["status"] as? String == "running")
            let results = try await server.send(.GET, "/api/v1/images/\(ids[0])/results", token: token)
            let features = results.array.first?["features"] as? [String: Any]
            #expect(features?["mean_r"] as? Double == 0.25)
            #expect(results.array.first?["status"] as? String == "succeeded")
            let csv = try await server.send(.GET, "/api/v1/studies/\(study)/results?format=csv", token: token)
            let lines = csv.text.split(separator: "\n")
            #expect(lines.count == 3)
            #expect(lines.first == "image_id,sha256,original_name,intensity.count,intensity.mean_r")
            #expect(lines.contains { $0.hasPrefix(Substring(ids[0])) && $0.hasSuffix(",3,0.25") })
            let second = try #require(jobs.first { $0.imageID.api == ids[1] })
            second.state = "dead"
            second.lastError = "decoder crashed"
            try await second.save(on: server.app.db)
            let done = try await server.send(.GET, "/api/v1/studies/\(study)", token: token)
            #expect(done.object["progress"] as? Int == 100)
            #expect(done.object["status"] as? String == "partial")
        }
    }

    @Test("uploads are admitted per user and in total; 429 and 503 carry Retry-After")
    func uploadGate() async throws {
        try await TestServer.with { server in
            let gate = UploadGate(perUser: 2, total: 3, highWater: 1_000)
            let (a, b, c) = (UUID(), UUID(), UUID())
            #expect(await gate.enter(a, db: server.app.db) == nil)
            #expect(await gate.enter(a, db: server.app.db) == nil)
            #expect(await gate.enter(a, db: server.app.db) == .userBusy(limit: 2))
            #expect(await gate.enter(b, db: server.app.db) == nil)
            #expect(await gate.enter(c, db: server.app.db) == .serverBusy, "three uploads in flight in total")
            await gate.leave(a)
            #expect(await gate.enter(c, db: server.app.db) == nil)
        }
    }

    @Test("backpressure: above the queue's high-water mark uploads get 503 with Retry-After and nothing is stored", arguments: TestDatabase.all)
    func backpressure(database: TestDatabase) async throws {
        try await TestServer.with(database, adjust: { $0.queueHighWater = 4 }) { server in
            let (token, _) = try await server.account("burst@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: [["id": "intensity"], ["id": "color"]])
            let first = try await server.upload([("a.png", try TestImages.png(seed: 1)), ("b.png", try TestImages.png(seed: 2))],
                                                study: study, token: token)
            #expect(first.status == .created, "admitted while the backlog was empty; it queues 4 jobs")
            try await Task.sleep(for: .milliseconds(1100))  // the gate re-reads the backlog at most once a second
            let refused = try await server.upload([("c.png", try TestImages.png(seed: 3))], study: study, token: token)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers.first(name: "Retry-After") == "30")
            #expect((refused.object["error"] as? [String: Any])?["code"] as? String == "unavailable")
            #expect(try await ImageRecord.query(on: server.app.db).count() == 2)
            #expect(try await Job.query(on: server.app.db).count() == 4)
            // Workers catch up: the backlog drains and uploads are taken again.
            try await Job.query(on: server.app.db).set(\.$state, to: "succeeded").update()
            try await Task.sleep(for: .milliseconds(1100))
            let accepted = try await server.upload([("c.png", try TestImages.png(seed: 3))], study: study, token: token)
            #expect(accepted.status == .created)
        }
    }

    @Test("crash between blob write and commit: the orphan is collected at start-up once past the grace period; referenced blobs stay")
    func orphanCollection() async throws {
        try await TestServer.with { server in
            let (token, _) = try await server.account("orphan@lab.example")
            let (_, _, study) = try await server.records(token: token)
            #expect(try await server.upload([("a.png", try TestImages.png(seed: 1))], study: study, token: token).status == .created)
            let blobs = try #require(server.parts).blobs
            // What an upload that died after writing its blob, before its commit, leaves behind.
            let orphan = UUID()
            _ = try blobs.put(Data(try TestImages.png(seed: 2)), id: orphan)
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            #expect(try await BlobSweeper.collectOrphans(store: blobs, db: server.app.db, logger: logger) == 0,
                    "a fresh blob may belong to an upload still committing in another process")
            let later = Date().addingTimeInterval(16 * 60)
            #expect(try await BlobSweeper.collectOrphans(store: blobs, db: server.app.db, logger: logger, now: later) == 1)
            #expect(throws: StoreError.self) { try blobs.get(orphan) }
            for image in try await ImageRecord.query(on: server.app.db).all() {
                #expect(throws: Never.self) { try blobs.get(image.blobID) }
            }
        }
    }
}
