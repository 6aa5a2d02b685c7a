import Fluent
import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonStore
import KaryonTestSupport
import SQLKit
import Testing
import Vapor
@testable import KaryonServer

/// The pipeline scenarios of the reliability list ("Pipeline: no lost work") with real
/// `karyon worker` processes on the test server's database (SQLite file, or PostgreSQL): worker
/// SIGKILL chaos, stale-worker fencing after SIGSTOP, heartbeats, and SIGTERM.
@Suite("Worker processes: SIGKILL chaos, stale-worker fencing, heartbeats, SIGTERM", .serialized)
struct WorkerProcessTests {
    static let quick = ["intensity", "color", "lbp", "glcm", "haralick"]
    /// Short leases so killed and stopped workers' jobs come back within seconds.
    static let lease = 1.5

    func worker(_ server: TestServer, _ extractors: [String], name: String, extra: [String] = []) throws -> KaryonChild {
        try KaryonChild(["worker", "--extractors", extractors.joined(separator: ","), "--concurrency", "1"] + extra,
                        environment: ["KARYON_DATA_DIR": server.directory, "KARYON_DATABASE_URL": server.configuration.databaseURL ?? "",
                                      "KARYON_KEY_FILE": server.configuration.keyFile, "KARYON_JOB_LEASE_SECONDS": String(Self.lease),
                                      "KARYON_WORKER_POLL_MS": "100",
                                      // Workers exit by themselves if this test process dies.
                                      "KARYON_SUPERVISOR_PID": String(getpid())],
                        logPath: server.directory + "/\(name).log")
    }

    func sql(_ server: TestServer) throws -> any SQLDatabase { try #require(server.app.db as? any SQLDatabase) }

    /// Jobs per state.
    func states(_ server: TestServer) async throws -> [String: Int] {
        let rows = try await sql(server).raw("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all()
        return try rows.reduce(into: [:]) { $0[try $1.decode(column: "state", as: String.self)] = try $1.decode(column: "n", as: Int.self) }
    }

    /// A synthetic brightfield field large enough that `nuclei` runs for seconds (several leases).
    static func largeField(seed: UInt64) throws -> [UInt8] {
        var spec = SyntheticFieldSpec()
        spec.width = 1280
        spec.height = 1280
        spec.seed = seed
        return try ImageCodec.encode(.uint8(FieldSynthesizer.render(spec).image), as: .png())
    }

    /// SIGSTOPs `child` at a moment it holds no SQLite write lock. A process stopped inside a
    /// write transaction blocks every writer of an SQLite database — SQLite's nature, and not the
    /// stale-worker scenario, which is about a worker that stalls while it computes.
    static func stopOutsideWrite(_ child: KaryonChild) async -> Bool {
        for _ in 0..<50 {
            child.signal(SIGSTOP)
            try? await Task.sleep(for: .milliseconds(20))
            let locks = (try? String(contentsOfFile: "/proc/locks", encoding: .utf8)) ?? ""
            let writing = locks.split(separator: "\n").contains { line in
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                return f.count > 4 && f[3] == "WRITE" && f[4] == Substring(String(child.pid))
            }
            if !writing { return true }
            child.signal(SIGCONT)
            try? await Task.sleep(for: .milliseconds(30))
        }
        return false
    }

    func job(_ server: TestServer) async throws -> Job { try #require(try await Job.query(on: server.app.db).first()) }

    @Test("SIGKILL chaos: 200 images × 5 extractors, a random worker killed every 0.5–3 s and restarted; none lost, one result each",
          arguments: TestDatabase.all)
    func chaos(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("chaos@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: Self.quick.map { ["id": $0] })
            for batch in 0..<10 {
                let files = try (0..<20).map { i in ("f\(batch * 20 + i).png", try TestImages.png(width: 96, height: 80, seed: 1000 + batch * 20 + i)) }
                let reply = try await server.upload(files, study: study, token: token)
                try #require(reply.status == .created, "\(reply.text)")
            }
            let expected = 200 * Self.quick.count
            var workers = try (0..<3).map { try worker(server, Self.quick, name: "chaos-\($0)") }
            var kills = 0, interrupted = 0
            defer { workers.forEach { $0.killNow() } }
            let deadline = Date().addingTimeInterval(300)
            while Date() < deadline {
                let s = try await states(server)
                if (s["succeeded"] ?? 0) + (s["dead"] ?? 0) == expected { break }
                try await Task.sleep(for: .seconds(Double.random(in: 0.5...3)))
                guard kills < 30 else { continue }
                let victim = Int.random(in: 0..<workers.count)
                let pid = workers[victim].pid
                let holding = try await Job.query(on: server.app.db).filter(\.$state == "running").all()
                    .filter { $0.workerID?.contains(":\(pid)/") == true }.count
                workers[victim].signal(SIGKILL)
                _ = await workers[victim].wait(upTo: 10)
                kills += 1
                interrupted += holding > 0 ? 1 : 0
                workers[victim] = try worker(server, Self.quick, name: "chaos-\(victim)")
            }
            let s = try await states(server)
            #expect((s["succeeded"] ?? 0) + (s["dead"] ?? 0) == expected, "not all jobs ended: \(s); log: \(workers[0].log.suffix(2000))")
            #expect(s["running"] == nil && s["queued"] == nil && s["failed"] == nil)
            #expect(kills >= 3, "the work finished before the chaos began (\(kills) kills)")
            #expect(interrupted >= 1, "no kill interrupted a running job")
            let results = try await ResultRecord.query(on: server.app.db).count()
            #expect(results == s["succeeded"] ?? 0, "exactly one result per succeeded job")
            let duplicates = try await sql(server).raw("""
                SELECT image_id, extractor_id, COUNT(*) AS n FROM results GROUP BY image_id, extractor_id HAVING COUNT(*) > 1
                """).all()
            #expect(duplicates.isEmpty)
            let redelivered = try await Job.query(on: server.app.db).filter(\.$attempts > 1).count()
            #expect(redelivered >= 1, "some jobs were taken over from killed workers")
            for dead in try await Job.query(on: server.app.db).filter(\.$state == "dead").all() {
                #expect(dead.lastError?.isEmpty == false, "a dead letter keeps its reason")
            }
            // A worker restarted at the last moment may still be starting; SIGTERM a running one.
            for w in workers { _ = await eventually(within: 30) { w.log.contains("worker started") } }
            for w in workers { w.signal(SIGTERM) }
            for w in workers {
                let status = await w.wait(upTo: 30)
                #expect(status == 0, "worker exits cleanly on SIGTERM (status \(status.map(String.init) ?? "still running")): \(w.log.suffix(1500))")
            }
        }
    }

    @Test("a worker SIGSTOPped past its lease is fenced: another worker completes the job, the stale completion is refused",
          arguments: TestDatabase.all)
    func staleWorkerFencing(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("fence@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: [["id": "nuclei"]])
            try #require(try await server.upload([("big.png", try Self.largeField(seed: 3))], study: study, token: token).status == .created)
            let w1 = try worker(server, ["nuclei"], name: "w1")
            defer { w1.killNow() }
            let running = try await eventually(within: 60) {
                try await job(server).workerID?.contains(":\(w1.pid)/") == true
            }
            try #require(running, "W1 never claimed the job: \(w1.log.suffix(2000))")
            try await Task.sleep(for: .milliseconds(300))
            try #require(await Self.stopOutsideWrite(w1), "W1 could not be stopped outside a database write")
            let w2 = try worker(server, ["nuclei"], name: "w2")
            defer { w2.killNow() }
            let finished = try await eventually(within: 120) { try await job(server).state == "succeeded" }
            let done = try await job(server)
            #expect(finished, "W2 did not complete the job: \(w2.log.suffix(2000))")
            #expect(done.workerID?.contains(":\(w2.pid)/") == true && done.attempts == 2)
            w1.signal(SIGCONT)
            let fenced = await eventually(within: 120) { w1.log.contains("job.outcome: fenced") }
            #expect(fenced, "W1's late completion was not reported as fenced: \(w1.log.suffix(2000))")
            #expect(try await ResultRecord.query(on: server.app.db).count() == 1)
            #expect(try await job(server).workerID?.contains(":\(w2.pid)/") == true, "the stale worker changed nothing")
        }
    }

    @Test("heartbeats keep a job that runs for several leases with its worker; a second worker never takes it over",
          arguments: TestDatabase.all)
    func heartbeats(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("beat@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: [["id": "nuclei"]])
            try #require(try await server.upload([("big.png", try Self.largeField(seed: 4))], study: study, token: token).status == .created)
            let w1 = try worker(server, ["nuclei"], name: "w1")
            defer { w1.killNow() }
            try #require(try await eventually(within: 60) { try await job(server).state == "running" })
            let w2 = try worker(server, ["nuclei"], name: "w2")
            defer { w2.killNow() }
            #expect(try await eventually(within: 120) { try await job(server).state == "succeeded" })
            let done = try await job(server)
            let ran = try #require(done.finishedAt).timeIntervalSince(try #require(done.claimedAt))
            #expect(ran > 2 * Self.lease, "the job must outlive its lease to prove anything (ran \(ran) s)")
            #expect(done.attempts == 1 && done.workerID?.contains(":\(w1.pid)/") == true, "taken over despite heartbeats")
        }
    }

    @Test("SIGTERM: a worker finishes its running job within the grace period and exits; past it, the job is released uncounted",
          arguments: TestDatabase.all)
    func gracefulStop(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("term@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: [["id": "nuclei"]])
            try #require(try await server.upload([("a.png", try Self.largeField(seed: 5))], study: study, token: token).status == .created)
            let patient = try await worker(server, ["nuclei"], name: "patient", extra: ["--grace", "120"])
            defer { patient.killNow() }
            try #require(try await eventually(within: 60) { try await job(server).state == "running" })
            patient.signal(SIGTERM)
            #expect(await patient.wait(upTo: 120) == 0, "\(patient.log.suffix(2000))")
            let finished = try await job(server)
            #expect(finished.state == "succeeded" && finished.attempts == 1)

            try await Job.query(on: server.app.db).delete()
            try #require(try await server.upload([("b.png", try Self.largeField(seed: 6))], study: study, token: token).status == .created)
            let hasty = try worker(server, ["nuclei"], name: "hasty", extra: ["--grace", "0.2"])
            defer { hasty.killNow() }
            try #require(try await eventually(within: 60) { try await job(server).state == "running" })
            let stopAsked = Date()
            hasty.signal(SIGTERM)
            #expect(await hasty.wait(upTo: 10) == 0, "\(hasty.log.suffix(2000))")
            #expect(Date().timeIntervalSince(stopAsked) < 10)
            let released = try await job(server)
            #expect(released.state == "queued" && released.attempts == 0 && released.attemptToken == nil, "released, attempt not counted")
            #expect(try await ResultRecord.query(on: server.app.db).count() == 1)
        }
    }
}
