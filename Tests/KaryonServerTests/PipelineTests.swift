import Fluent
import Foundation
import KaryonAnalysis
import KaryonPipeline
import KaryonStore
import KaryonTestSupport
import Logging
import SQLKit
import Synchronization
import Testing
import Vapor
@testable import KaryonServer

/// Fails its first run (retryably), then succeeds.
private struct FlakyExtractor: Extractor {
    static let runs = Atomic<Int>(0)
    static let descriptor = ExtractorDescriptor(
        id: "flaky", version: "1.0.0", summary: "test", references: [], parameters: [], determinism: .bitExact)
    init(parameters: ParameterSet) throws {}
    func columns(for layout: InputLayout) -> [FeatureColumn] { [FeatureColumn("value", help: "1")] }
    func extract(_ input: ExtractionInput) throws -> FeatureVector {
        if Self.runs.add(1, ordering: .relaxed).oldValue == 0 { throw ExtractorError(.failed, "flaky: the first run fails") }
        var out = FeatureVector()
        out.append("value", 1.0)
        return out
    }
}

/// On its first run, takes the database's write lock on a connection of its own and holds it for
/// a second after returning, so the worker slot's completion meets a locked database.
private struct LockingExtractor: Extractor {
    static let runs = Atomic<Int>(0)
    static let database = Mutex<(path: String, dialect: any SQLDatabase)?>(nil)
    static let descriptor = ExtractorDescriptor(
        id: "dblock", version: "1.0.0", summary: "test", references: [], parameters: [], determinism: .bitExact)
    init(parameters: ParameterSet) throws {}
    func columns(for layout: InputLayout) -> [FeatureColumn] { [FeatureColumn("value", help: "1")] }
    func extract(_ input: ExtractionInput) throws -> FeatureVector {
        if Self.runs.add(1, ordering: .relaxed).oldValue == 0, let (path, dialect) = Self.database.withLock({ $0 }) {
            let locked = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                guard let holder = try? DirectSQLite(path: path, dialect: dialect) else { locked.signal(); return }
                defer { holder.close() }
                let held = (try? holder.run(SQLRaw("BEGIN IMMEDIATE"))) != nil
                locked.signal()
                guard held else { return }
                Thread.sleep(forTimeInterval: 1)
                try? holder.run(SQLRaw("COMMIT"))
            }
            locked.wait()
        }
        var out = FeatureVector()
        out.append("value", 1.0)
        return out
    }
}

@Suite("Job queue: leases, fencing, retries, dead letters; in-process workers")
struct PipelineTests {
    /// A server with one study (`intensity` and `color`) and `images` uploaded: 2 jobs per image.
    func seeded(_ server: TestServer, images: Int) async throws -> (token: String, study: String) {
        let (token, _) = try await server.account("pipe@lab.example")
        let (_, _, study) = try await server.records(token: token, extractors: [["id": "intensity"], ["id": "color"]])
        let files = try (0..<images).map { ("f\($0).png", try TestImages.png(seed: 100 + $0)) }
        let reply = try await server.upload(files, study: study, token: token)
        #expect(reply.status == .created)
        return (token, study)
    }

    @Test("claim, complete once; a stale worker is fenced and duplicate delivery stores one result", arguments: TestDatabase.all)
    func fencing(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            _ = try await seeded(server, images: 1)
            let queue = JobQueue(database: server.app.db, policy: .init(lease: 30))
            let t0 = Date()
            let first = try #require(try await queue.claim(extractors: ["intensity"], worker: "w1", now: t0))
            #expect(first.attempt == 1)
            #expect(try await queue.claim(extractors: ["intensity"], worker: "w2", now: t0) == nil, "a leased job is not claimable")
            // W1 stalls past its lease; the reaper gives the job back and W2 takes it.
            #expect(try await queue.reap(now: t0.addingTimeInterval(31)) == 1)
            let second = try #require(try await queue.claim(extractors: ["intensity"], worker: "w2", now: t0.addingTimeInterval(32)))
            #expect(second.id == first.id && second.attempt == 2 && second.attemptToken != first.attemptToken)
            #expect(try await queue.heartbeat(first) == false)
            let output = JobQueue.Output(features: #"{"mean": 1}"#, inputSHA256: "abc")
            #expect(try await queue.complete(second, output: output) == .stored)
            #expect(try await queue.complete(first, output: output) == .fenced)
            #expect(try await queue.complete(second, output: output) == .fenced, "a finished job cannot be completed again")
            #expect(try await queue.fail(first, error: "late") == nil)
            #expect(try await ResultRecord.query(on: server.app.db).count() == 1)
            let job = try #require(try await Job.find(first.id, on: server.app.db))
            #expect(job.state == "succeeded" && job.attempts == 2)
        }
    }

    @Test("completing can claim the slot's next job in the same transaction: fenced or not, never a job twice, nothing when not asked",
          arguments: TestDatabase.all)
    func completeThenClaim(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            _ = try await seeded(server, images: 3)
            let queue = JobQueue(database: server.app.db, policy: .init(lease: 30))
            let output = JobQueue.Output(features: #"{"mean": 1}"#, inputSHA256: "abc")
            let t0 = Date()
            let first = try #require(try await queue.claim(extractors: ["intensity"], worker: "w1", now: t0))
            let (stored, second) = try await queue.complete(first, output: output, thenClaim: ["intensity"], worker: "w1/0", now: t0)
            #expect(stored == .stored)
            let next = try #require(second)
            #expect(next.id != first.id && next.extractorID == "intensity" && next.attempt == 1)
            let row = try #require(try await Job.find(next.id, on: server.app.db))
            #expect(row.state == "running" && row.workerID == "w1/0")
            // A fenced completion writes nothing but still claims; no extractors: no claim.
            let (fenced, third) = try await queue.complete(first, output: output, thenClaim: ["intensity"], worker: "w1/0", now: t0)
            #expect(fenced == .fenced)
            let last = try #require(third)
            #expect(Set([first.id, next.id, last.id]).count == 3)
            let (_, none) = try await queue.complete(next, output: output, thenClaim: [], worker: "w1/0", now: t0)
            #expect(none == nil)
            let (_, empty) = try await queue.complete(last, output: output, thenClaim: ["intensity"], worker: "w1/0", now: t0)
            #expect(empty == nil, "three intensity jobs, all claimed")
            #expect(try await ResultRecord.query(on: server.app.db).count() == 3)
            #expect(try await Job.query(on: server.app.db).filter(\.$extractorID == "intensity").filter(\.$state == "succeeded").count() == 3)

            // Slots that claim with their completions, racing: every color job runs exactly once.
            let ran = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for w in 0..<3 {
                    group.addTask { try await queue.drain("color", worker: "c\(w)", output: output) }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(ran.count == 3 && Set(ran).count == 3)
            #expect(try await ResultRecord.query(on: server.app.db).count() == 6)
        }
    }

    @Test("failures back off, then dead-letter with the last error; an admin can requeue", arguments: TestDatabase.all)
    func retriesAndDeadLetter(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await seeded(server, images: 1)
            let queue = JobQueue(database: server.app.db, policy: .init(lease: 30, backoff: 10))
            var now = Date()
            var last: ClaimedJob?
            for attempt in 1...5 {
                let job = try #require(try await queue.claim(extractors: ["color"], worker: "w", now: now), "attempt \(attempt)")
                #expect(job.attempt == attempt)
                let state = try await queue.fail(job, error: "decoder crashed (\(attempt))", now: now, jitter: 1)
                #expect(state == (attempt < 5 ? .failed : .dead))
                if attempt < 5 {
                    #expect(try await queue.claim(extractors: ["color"], worker: "w", now: now.addingTimeInterval(1)) == nil, "backing off")
                    now = now.addingTimeInterval(10 * pow(2, Double(attempt - 1)) + 0.001)
                }
                last = job
            }
            let dead = try #require(try await Job.find(last!.id, on: server.app.db))
            #expect(dead.state == "dead" && dead.lastError == "decoder crashed (5)" && dead.attempts == 5)
            #expect(try await queue.claim(extractors: ["color"], worker: "w", now: now.addingTimeInterval(10_000)) == nil)
            // Other work keeps flowing.
            #expect(try await queue.claim(extractors: ["intensity"], worker: "w", now: now) != nil)
            // An administrator finds it among the dead letters, with its error, and requeues it.
            let listed = try await server.send(.GET, "/api/v1/admin/jobs?state=dead", token: token)
            #expect(listed.status == .forbidden, "administrators only")
            let admin = try await adminToken(server)
            let deadLetters = try await server.send(.GET, "/api/v1/admin/jobs?state=dead", token: admin)
            let letters = deadLetters.object["items"] as? [[String: Any]] ?? []
            #expect(deadLetters.status == .ok && deadLetters.object["total"] as? Int == 1 && letters.count == 1)
            #expect(letters.first?["id"] as? String == dead.id!.api && letters.first?["error"] as? String == "decoder crashed (5)")
            #expect(letters.first?["attempts"] as? Int == 5 && letters.first?["extractor"] as? String == "color")
            let results = try await server.send(.GET, "/api/v1/images/\(dead.imageID.api)/results", token: token)
            #expect(results.array.contains { $0["job_id"] as? String == dead.id!.api && $0["status"] as? String == "dead" })
            let requeued = try await server.send(.POST, "/api/v1/admin/jobs/\(dead.id!.api)/requeue", token: admin)
            #expect(requeued.status == .noContent)
            #expect(try await Job.find(dead.id, on: server.app.db)?.state == "queued")
            let queueReply = try await server.send(.GET, "/api/v1/queue", token: admin)
            #expect(queueReply.array.contains { $0["extractor"] as? String == "color" })
        }
    }

    /// The seeded account, made an administrator, and a fresh token carrying the role.
    func adminToken(_ server: TestServer) async throws -> String {
        try await server.promote("pipe@lab.example")
        let login = try await server.send(.POST, "/api/v1/auth/login", json: ["email": "pipe@lab.example", "password": "correct horse battery"])
        return try #require(login.object["access_token"] as? String)
    }

    @Test("administrators list jobs by state, extractor, study and image, and requeue the dead ones of an extractor or a study at once",
          arguments: TestDatabase.all)
    func deadLettersInBulk(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, study) = try await seeded(server, images: 3)
            let (_, _, other) = try await server.records(token: token, extractors: [["id": "intensity"]])
            #expect(try await server.upload([("g.png", try TestImages.png(seed: 200))], study: other, token: token).status == .created)
            let queue = JobQueue(database: server.app.db)
            var failed = 0
            while failed < 20, let job = try await queue.claim(extractors: ["intensity", "color"], worker: "w") {
                #expect(try await queue.fail(job, error: "\(job.extractorID) broke", retryable: false) == .dead)
                failed += 1
            }
            #expect(failed == 7, "3 color and 4 intensity jobs dead")
            let (stranger, _) = try await server.account("stranger@lab.example")
            let admin = try await adminToken(server)
            func page(_ query: String) async throws -> (total: Int?, items: [[String: Any]]) {
                let reply = try await server.send(.GET, "/api/v1/admin/jobs?\(query)", token: admin)
                #expect(reply.status == .ok, "\(query)")
                return (reply.object["total"] as? Int, reply.object["items"] as? [[String: Any]] ?? [])
            }
            let all = try await page("state=dead")
            #expect(all.total == 7 && all.items.count == 7)
            #expect(all.items.allSatisfy { $0["state"] as? String == "dead" && $0["error"] as? String == "\($0["extractor"] as? String ?? "?") broke" })
            #expect(try await page("state=dead&extractor=color").total == 3)
            #expect(try await page("state=dead&study_id=\(other)").total == 1)
            let image = try #require(all.items.first { $0["study_id"] as? String == study }?["image_id"] as? String)
            #expect(try await page("image_id=\(image)").total == 2, "one job per study extractor")
            let firstTwo = try await page("state=dead&limit=2")
            #expect(firstTwo.total == 7 && firstTwo.items.count == 2)
            #expect(try await page("state=queued").total == 0)
            for bad in ["state=zombie", "study_id=nope", "image_id=1", "limit=x"] {
                #expect(try await server.send(.GET, "/api/v1/admin/jobs?\(bad)", token: admin).status == .badRequest, "\(bad)")
            }
            // Bulk requeue: refused to non-administrators and for unknown fields, nothing changed.
            #expect(try await server.send(.GET, "/api/v1/admin/jobs", token: stranger).status == .forbidden)
            #expect(try await server.send(.POST, "/api/v1/admin/jobs/requeue", token: stranger, json: [String: Any]()).status == .forbidden)
            #expect(try await server.send(.POST, "/api/v1/admin/jobs/requeue", token: admin, json: ["state": "failed"]).status == .badRequest)
            #expect(try await server.send(.POST, "/api/v1/admin/jobs/requeue", token: admin, json: ["extractor": ""]).status == .unprocessableEntity)
            #expect(try await page("state=dead").total == 7)
            // One extractor of one study, then everything else.
            let some = try await server.send(.POST, "/api/v1/admin/jobs/requeue", token: admin, json: ["extractor": "intensity", "study_id": study])
            #expect(some.status == .ok && some.object["requeued"] as? Int == 3)
            #expect(some.object["by_extractor"] as? [String: Int] == ["intensity": 3])
            #expect(try await page("state=dead").total == 4)
            #expect(try await page("state=queued&extractor=intensity").total == 3)
            let rest = try await server.send(.POST, "/api/v1/admin/jobs/requeue", token: admin, json: [String: Any]())
            #expect(rest.object["requeued"] as? Int == 4 && rest.object["by_extractor"] as? [String: Int] == ["color": 3, "intensity": 1])
            #expect(try await page("state=dead").total == 0)
            // They run again with a fresh attempt budget.
            let again = try #require(try await queue.claim(extractors: ["color"], worker: "w"))
            #expect(again.attempt == 1)
            let audit = try await server.send(.GET, "/api/v1/audit?action=job.requeue_dead", token: admin)
            #expect(audit.object["total"] as? Int == 2)
            // An unsubscribed analysis stays unsubscribed: its dead job is not requeued in bulk,
            // but an administrator can still name it.
            #expect(try await queue.fail(again, error: "color broke", retryable: false) == .dead)
            let subscriptions = try await server.send(.GET, "/api/v1/studies/\(study)", token: token).object["extractors"] as? [[String: Any]] ?? []
            let color = try #require(subscriptions.first { $0["id"] as? String == "color" }?["subscription_id"] as? String)
            #expect(try await server.send(.DELETE, "/api/v1/studies/\(study)/extractors/\(color)", token: token).status == .noContent)
            let none = try await server.send(.POST, "/api/v1/admin/jobs/requeue", token: admin, json: ["extractor": "color"])
            #expect(none.object["requeued"] as? Int == 0)
            #expect(try await page("state=dead&extractor=color").total == 1)
            #expect(try await server.send(.POST, "/api/v1/admin/jobs/\(again.id.api)/requeue", token: admin).status == .noContent)
        }
    }

    @Test("dead letters gather in one notification per study and extractor until it is read; the study's end is announced however its last job ends",
          arguments: TestDatabase.all)
    func deadLetterNotifications(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, study) = try await seeded(server, images: 3)
            let queue = JobQueue(database: server.app.db, policy: .init(lease: 1))
            let notifier = StudyNotifier(database: server.app.db)
            func notes() async throws -> [[String: Any]] {
                try await server.send(.GET, "/api/v1/notifications", token: token).object["items"] as? [[String: Any]] ?? []
            }
            func failedNotes() async throws -> [[String: Any]] { try await notes().filter { $0["kind"] as? String == "job.failed" } }
            // Every intensity job succeeds.
            while let job = try await queue.claim(extractors: ["intensity"], worker: "w") {
                #expect(try await queue.complete(job, output: .init(features: #"{"mean": 1}"#, inputSHA256: "x")) == .stored)
                await notifier.handle(.succeeded(job, duration: 0))
            }
            // Two color jobs die: one notification, updated.
            for _ in 0..<2 {
                let job = try #require(try await queue.claim(extractors: ["color"], worker: "w"))
                let state = try #require(try await queue.fail(job, error: "cannot read the image", retryable: false))
                await notifier.handle(.failed(job, state: state, message: "cannot read the image"))
            }
            var failed = try await failedNotes()
            #expect(failed.count == 1 && failed.first?["resource_type"] as? String == "study" && failed.first?["resource_id"] as? String == study)
            #expect((failed.first?["message"] as? String)?.hasPrefix("color failed on 2 images of") == true, "\(failed)")
            #expect(try await notes().allSatisfy { ($0["kind"] as? String)?.hasPrefix("analysis.") != true }, "one color job is still open")
            // The last one's worker is killed on its last attempt: the server's reaper dead-letters
            // it, and that ends the study.
            let last = try #require(try await Job.query(on: server.app.db).filter(\.$state == "queued").first())
            last.maxAttempts = 1
            try await last.save(on: server.app.db)
            _ = try #require(try await queue.claim(extractors: ["color"], worker: "killed"))
            let parts = try #require(server.parts)
            let reaper = LeaseReaper(queue: queue, interval: 0.2, signal: parts.jobSignal, logger: server.app.logger)
            try await reaper.didBootAsync(server.app)
            let ended = await eventually(within: 20) { (try? await self.notesOfKind(server, token, "analysis.partial").count) == 1 }
            await reaper.shutdownAsync(server.app)
            #expect(ended, "the study's end is announced when its last job is dead-lettered by the reaper")
            #expect(try await Job.find(last.id, on: server.app.db)?.lastError == JobQueue.expiredOnLastAttempt)
            failed = try await failedNotes()
            #expect(failed.count == 1)
            #expect((failed.first?["message"] as? String)?.hasPrefix("color failed on 3 images of") == true)
            #expect((failed.first?["message"] as? String)?.hasSuffix(JobQueue.expiredOnLastAttempt) == true, "\(failed)")
            #expect((try await notesOfKind(server, token, "analysis.partial").first?["message"] as? String)?.hasSuffix("3 job(s) failed.") == true)
            // Once read, the next dead letter makes a new notification.
            let id = try #require(failed.first?["id"] as? String)
            #expect(try await server.send(.POST, "/api/v1/notifications/\(id)/read", token: token).status == .noContent)
            let admin = try await adminToken(server)
            let requeued = try await server.send(.POST, "/api/v1/admin/jobs/requeue", token: admin, json: ["extractor": "color"])
            #expect(requeued.object["requeued"] as? Int == 3)
            let again = try #require(try await queue.claim(extractors: ["color"], worker: "w"))
            let state = try #require(try await queue.fail(again, error: "still unreadable", retryable: false))
            await notifier.handle(.failed(again, state: state, message: "still unreadable"))
            failed = try await failedNotes()
            #expect(failed.count == 2)
            #expect(failed.filter { $0["read"] as? Bool == false }.map { $0["message"] as? String } == ["color failed on an image of “Ki-67 biopsy” after 1 attempt(s): still unreadable"])
            // The other two succeed: the study ends again, and its unread announcement is rewritten.
            for _ in 0..<2 {
                let job = try #require(try await queue.claim(extractors: ["color"], worker: "w"))
                #expect(try await queue.complete(job, output: .init(features: #"{"mean": 1}"#, inputSHA256: "x")) == .stored)
                await notifier.handle(.succeeded(job, duration: 0))
            }
            let announced = try await notes().filter { ($0["kind"] as? String)?.hasPrefix("analysis.") == true }
            #expect(announced.count == 1, "\(announced)")
            #expect((announced.first?["message"] as? String)?.hasSuffix("finished; 1 job(s) failed.") == true, "\(announced)")
        }
    }

    @Test("an unsubscription or a deleted image that takes a study's last open jobs announces the study's end; one that takes none does not",
          arguments: TestDatabase.all)
    func endWithoutAJobEnding(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, study) = try await seeded(server, images: 2)
            let queue = JobQueue(database: server.app.db)
            let notifier = StudyNotifier(database: server.app.db)
            // Both intensity jobs and one color job succeed; the other color job waits.
            for extractor in ["intensity", "intensity", "color"] {
                let job = try #require(try await queue.claim(extractors: [extractor], worker: "w"))
                #expect(try await queue.complete(job, output: .init(features: #"{"mean": 1}"#, inputSHA256: "x")) == .stored)
                await notifier.handle(.succeeded(job, duration: 0))
            }
            #expect(try await notesOfKind(server, token, "analysis.finished").isEmpty)
            let extractors = try await server.send(.GET, "/api/v1/studies/\(study)", token: token).object["extractors"] as? [[String: Any]] ?? []
            let color = try #require(extractors.first { $0["id"] as? String == "color" }?["subscription_id"] as? String)
            #expect(try await server.send(.DELETE, "/api/v1/studies/\(study)/extractors/\(color)", token: token).status == .noContent)
            let first = try await notesOfKind(server, token, "analysis.finished")
            #expect(first.count == 1, "the unsubscription took the study's last open job")
            let firstID = try #require(first.first?["id"] as? String)
            #expect(try await server.send(.POST, "/api/v1/notifications/\(firstID)/read", token: token).status == .noContent)
            // A late image (intensity only now), deleted before its job runs.
            let upload = try await server.upload([("late.png", try TestImages.png(seed: 300))], study: study, token: token)
            let late = try #require((upload.object["images"] as? [[String: Any]])?.first?["id"] as? String)
            #expect(try await server.send(.DELETE, "/api/v1/images/\(late)", token: token).status == .noContent)
            #expect(try await notesOfKind(server, token, "analysis.finished").count == 2, "the deleted image took the study's last open job")
            // Deleting an analysed image takes no open job: nothing more is announced.
            let analysed = try #require(try await ImageRecord.query(on: server.app.db).first())
            #expect(try await server.send(.DELETE, "/api/v1/images/\(analysed.id!.api)", token: token).status == .noContent)
            #expect(try await notesOfKind(server, token, "analysis.finished").count == 2)
        }
    }

    func notesOfKind(_ server: TestServer, _ token: String, _ kind: String) async throws -> [[String: Any]] {
        let items = try await server.send(.GET, "/api/v1/notifications", token: token).object["items"] as? [[String: Any]] ?? []
        return items.filter { $0["kind"] as? String == kind }
    }

    @Test("a failed job is retried when its backoff ends, not at the pool's next poll")
    func retryRingsTheDoorbell() async throws {
        try await TestServer.with { server in
            _ = try await seeded(server, images: 1)
            let image = try #require(try await ImageRecord.query(on: server.app.db).first())
            let job = Job(imageID: try image.requireID(), studyID: image.studyID, extractorID: "flaky", extractorVersion: "1.0.0",
                          parameters: "{}", parameterHash: "flaky")
            try await job.create(on: server.app.db)
            // A poll of a minute: only the ring at the end of the 0.2 s backoff gets the retry run.
            let pool = WorkerPool(
                queue: JobQueue(database: server.app.db, policy: QueuePolicy(lease: 30, backoff: 0.2)),
                runner: JobRunner(database: server.app.db, blobs: try #require(server.parts).blobs, registry: ExtractorRegistry([FlakyExtractor.self])),
                settings: .init(extractor: "flaky", scaling: .fixed(1), idlePoll: 60, reaps: false),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            await pool.start()
            var state = ""
            let retried = await eventually(within: 20) {
                state = (try? await Job.find(job.id, on: server.app.db))?.state ?? ""
                return state == "succeeded"
            }
            await pool.stop()
            #expect(retried, "the job is \(state)")
            #expect(FlakyExtractor.runs.load(ordering: .relaxed) == 2)
        }
    }

    @Test("a worker slot whose database connection fails mid-job: the job fails retryably, runs again, and the slot works on")
    func slotConnectionFailure() async throws {
        try await TestServer.with { server in
            _ = try await seeded(server, images: 2)
            let parts = try #require(server.parts)
            let path = try #require(parts.sqlitePath)
            let dialect = try server.app.db.sql(for: "the test")
            LockingExtractor.database.withLock { $0 = (path, dialect) }
            var jobs: [Job] = []
            for image in try await ImageRecord.query(on: server.app.db).all() {
                let job = Job(imageID: try image.requireID(), studyID: image.studyID, extractorID: "dblock", extractorVersion: "1.0.0",
                              parameters: "{}", parameterHash: "dblock")
                try await job.create(on: server.app.db)
                jobs.append(job)
            }
            // The slot's own connection gives up on the lock after 0.1 s; the lock is held for 1 s.
            let queue = JobQueue(database: server.app.db, policy: QueuePolicy(lease: 30, backoff: 0.2), directSQLitePath: path,
                                 directBusyTimeout: 0.1)
            let pool = WorkerPool(
                queue: queue,
                runner: JobRunner(database: server.app.db, blobs: parts.blobs, registry: ExtractorRegistry([LockingExtractor.self])),
                settings: .init(extractor: "dblock", scaling: .fixed(1), idlePoll: 0.2, reaps: false),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            await pool.start()
            var states: [String] = []
            let done = await eventually(within: 30) {
                states = []
                for job in jobs { states.append((try? await Job.find(job.id, on: server.app.db))?.state ?? "") }
                return states.allSatisfy { $0 == "succeeded" }
            }
            await pool.stop()
            #expect(done, "jobs: \(states)")
            #expect(LockingExtractor.runs.load(ordering: .relaxed) == 3, "the locked-out job ran twice, the other once")
            var attempts: [Int] = []
            for job in jobs { attempts.append(try await Job.find(job.id, on: server.app.db)?.attempts ?? 0) }
            #expect(attempts.sorted() == [1, 2])
            #expect(try await ResultRecord.query(on: server.app.db).filter(\.$extractorID == "dblock").count() == 2)
        }
    }

    @Test("concurrent claimers never receive the same job", arguments: TestDatabase.all)
    func concurrentClaims(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            _ = try await seeded(server, images: 6)
            let queue = JobQueue(database: server.app.db)
            let claimed = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for w in 0..<4 {
                    group.addTask {
                        var mine: [UUID] = []
                        for _ in 0..<6 {
                            if let job = try await queue.claim(extractors: ["intensity", "color"], worker: "w\(w)") { mine.append(job.id) }
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(claimed.count == 12)
            #expect(Set(claimed).count == 12)
        }
    }

    @Test("in-process workers analyse uploads end to end; the study reports success and its creator is notified")
    func workersEndToEnd() async throws {
        try await TestServer.with { server in
            let (token, study) = try await seeded(server, images: 2)
            let status = try await server.runWorkersUntilDone(study: study, token: token, tries: 200)
            #expect(status == "success")
            let results = try await ResultRecord.query(on: server.app.db).all()
            #expect(results.count == 4)
            let images = try await server.send(.GET, "/api/v1/studies/\(study)/images", token: token).object["items"] as? [[String: Any]] ?? []
            let first = try #require(images.first?["id"] as? String)
            let perImage = try await server.send(.GET, "/api/v1/images/\(first)/results", token: token).array
            #expect(perImage.count == 2)
            #expect(perImage.allSatisfy { $0["status"] as? String == "succeeded" && ($0["features"] as? [String: Any])?.isEmpty == false })
            let notes = try await server.send(.GET, "/api/v1/notifications", token: token).object["items"] as? [[String: Any]] ?? []
            #expect(notes.contains { $0["kind"] as? String == "analysis.finished" })
            let metrics = try await server.send(.GET, "/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains(#"karyon_queue_jobs{extractor="color",state="succeeded"} 2"#), "\(metrics.text)")
            #expect(metrics.text.contains(#"karyon_jobs_finished_total{extractor="intensity",outcome="succeeded"} 2"#))
            #expect(metrics.text.contains("karyon_job_duration_seconds_bucket"))
        }
    }
}
