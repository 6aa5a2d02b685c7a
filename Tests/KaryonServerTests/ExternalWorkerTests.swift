import Fluent
import Foundation
import KaryonAnalysis
import KaryonPipeline
import KaryonStore
import Testing
import Vapor
@testable import KaryonServer

@Suite("External workers over HTTP: registration, claim, image, heartbeat, completion, fencing")
struct ExternalWorkerTests {
    /// An account with a personal token, its external extractor `ext-texture`, and a study
    /// subscribed to it (at creation) with `images` uploaded: one external job per image.
    func seeded(_ server: TestServer, images: Int = 1) async throws -> (access: String, worker: String, study: String, files: [[UInt8]]) {
        let (access, _) = try await server.account("ext@lab.example")
        let registered = try await server.registerExtractor(access)
        #expect(registered.status == .created, "\(registered.text)")
        let worker = try await server.personalToken(access).secret
        let (_, _, study) = try await server.records(token: access, extractors: [["id": "ext-texture", "parameters": ["distance": 2]]])
        let files = try (0..<images).map { try TestImages.png(seed: 40 + $0) }
        let upload = try await server.upload(files.enumerated().map { ("f\($0.offset).png", $0.element) }, study: study, token: access)
        #expect(upload.status == .created, "\(upload.text)")
        return (access, worker, study, files)
    }

    @Test("registration: 201 and listed as external with its columns; built-in and foreign ids 409; viewers 403; new version 200",
          arguments: TestDatabase.all)
    func registration(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (a, _) = try await server.account("a@lab.example")
            let (b, _) = try await server.account("b@lab.example")
            let created = try await server.registerExtractor(a)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.object["origin"] as? String == "external" && created.object["columns"] as? [String] == ["contrast", "energy"])
            let listed = try await server.send(.GET, "/api/v1/extractors/ext-texture", token: b)
            #expect(listed.status == .ok && listed.object["version"] as? String == "1.0.0")
            #expect((listed.object["parameters"] as? [[String: Any]])?.map { $0["key"] as? String } == ["distance", "mode"])
            let row = try #require(try await Algorithm.find("ext-texture", on: server.app.db))
            let owner = try await User.query(on: server.app.db).filter(\.$email == "a@lab.example").first()
            #expect(row.origin == "external" && row.ownerID != nil && row.ownerID == owner?.id)

            #expect(try await server.registerExtractor(a).status == .ok, "the same declaration again is idempotent")
            let changed = try await server.registerExtractor(a, columns: ["contrast"])
            #expect(changed.status == .conflict && changed.errorCode == "version_exists")
            #expect(try await server.registerExtractor(b).errorCode == "extractor_taken")
            #expect(try await server.registerExtractor(a, id: "glcm").errorCode == "extractor_taken")
            let upgraded = try await server.registerExtractor(a, version: "2.0.0", columns: ["contrast"])
            #expect(upgraded.status == .ok && upgraded.object["version"] as? String == "2.0.0")
            #expect(try await Algorithm.find("ext-texture", on: server.app.db)?.columns == #"["contrast"]"#)

            for (body, code) in [(["id": "Bad Id"], "invalid_extractor"), (["version": "1.0"], "invalid_extractor"),
                                 (["columns": ["a", "a"]], "invalid_extractor"),
                                 (["parameters": [["key": "k", "type": "integer", "default": 0, "minimum": 1]]], "parameter_out_of_bounds"),
                                 (["parameters": [["key": "k", "type": "float", "default": 0]]], "invalid_parameter")] as [([String: Any], String)] {
                var json: [String: Any] = ["id": "other", "version": "1.0.0", "summary": "s", "columns": ["a"]]
                json.merge(body) { $1 }
                let reply = try await server.send(.POST, "/api/v1/extractors", token: a, json: json)
                #expect(reply.status == .unprocessableEntity && reply.errorCode == code, "\(body): \(reply.text)")
            }
            let extra = try await server.send(.POST, "/api/v1/extractors", token: a,
                                              json: ["id": "other", "version": "1.0.0", "summary": "s", "columns": ["a"], "owner_id": UUID().uuidString])
            #expect(extra.status == .badRequest && extra.errorCode == "unknown_field")
            #expect(try await Algorithm.find("other", on: server.app.db) == nil)

            _ = try await server.send(.POST, "/api/v1/auth/register", json: ["email": "v@lab.example", "password": "correct horse battery", "name": "V"])
            let viewer = try #require(try await User.query(on: server.app.db).filter(\.$email == "v@lab.example").first())
            viewer.role = "viewer"
            try await viewer.save(on: server.app.db)
            let login = try await server.send(.POST, "/api/v1/auth/login", json: ["email": "v@lab.example", "password": "correct horse battery"])
            let refused = try await server.registerExtractor(login.object["access_token"] as? String ?? "", id: "viewers")
            #expect(refused.status == .forbidden)
            let actions = try await AuditEvent.query(on: server.app.db).all().map { "\($0.action) \($0.outcome)" }
            #expect(actions.contains("extractor.register success") && actions.contains("extractor.update success")
                    && actions.contains("extractor.register denied"))
        }
    }

    @Test("claim → image → heartbeat → complete stores the result once; queue, metrics and results show it", arguments: TestDatabase.all)
    func happyPath(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (access, worker, study, files) = try await seeded(server)
            let (reply, claimed) = try await server.claim(worker, ["ext-texture"])
            let job = try #require(claimed, "\(reply.text)")
            #expect(job["extractor"] as? String == "ext-texture" && job["version"] as? String == "1.0.0")
            #expect(job["attempt"] as? Int == 1 && job["max_attempts"] as? Int == 5 && job["lease_seconds"] as? Int == 60)
            #expect((job["parameters"] as? [String: Any])?["distance"] as? Int == 2)
            #expect((job["parameters"] as? [String: Any])?["mode"] as? String == "fast")
            #expect(job["study_id"] as? String == study && job["image_sha256"] as? String == sha256Hex(files[0]))
            #expect(job["pixel_size"] as? Double == 0.5)
            let jobID = try #require(job["id"] as? String)
            let token = try #require(job["attempt_token"] as? String)

            let image = try await server.send(.GET, try #require(job["image_url"] as? String), token: worker, headers: [("X-Attempt-Token", token)])
            #expect(image.status == .ok && [UInt8](image.body) == files[0] && image.headers.contentType?.subType == "png")
            let noHeader = try await server.send(.GET, "/api/v1/worker/jobs/\(jobID)/image", token: worker)
            #expect(noHeader.status == .badRequest && noHeader.errorCode == "attempt_token_required")
            let wrong = try await server.send(.GET, "/api/v1/worker/jobs/\(jobID)/image", token: worker, headers: [("X-Attempt-Token", UUID().uuidString)])
            #expect(wrong.status == .conflict && wrong.errorCode == "lease_lost")

            let beat = try await server.send(.POST, "/api/v1/worker/jobs/\(jobID)/heartbeat", token: worker, json: ["attempt_token": token])
            #expect(beat.status == .ok && beat.object["lease_seconds"] as? Int == 60)
            #expect(try await server.claim(worker, ["ext-texture"]).reply.status == .noContent, "a leased job is not offered again")

            let done = try await server.complete(worker, job, features: ["contrast": 1.25, "energy": 0.031_250_000_000_001])
            #expect(done.status == .ok && done.object["outcome"] as? String == "stored", "\(done.text)")
            let again = try await server.complete(worker, job, features: ["contrast": 9])
            #expect(again.status == .conflict && again.errorCode == "lease_lost", "a finished attempt cannot report twice")
            let lateBeat = try await server.send(.POST, "/api/v1/worker/jobs/\(jobID)/heartbeat", token: worker, json: ["attempt_token": token])
            #expect(lateBeat.status == .conflict)

            let stored = try await ResultRecord.query(on: server.app.db).all()
            #expect(stored.count == 1)
            #expect(stored.first?.features == #"{"contrast": 1.25, "energy": 0.031250000000001}"#)
            #expect(stored.first?.inputSHA256 == sha256Hex(files[0]) && stored.first?.extractorID == "ext-texture")
            let row = try #require(try await server.job(jobID))
            #expect(row.state == "succeeded" && row.workerID?.hasPrefix("api:") == true && row.claimedAt != nil)

            let imageID = try #require(job["image_id"] as? String)
            let results = try await server.send(.GET, "/api/v1/images/\(imageID)/results", token: access).array
            #expect(results.first { $0["extractor"] as? String == "ext-texture" }?["status"] as? String == "succeeded")
            let status = try await server.send(.GET, "/api/v1/studies/\(study)", token: access).object["status"] as? String
            #expect(status == "success")
            let queue = try await server.send(.GET, "/api/v1/queue", token: access).array
            #expect((queue.first { $0["extractor"] as? String == "ext-texture" }?["counts"] as? [String: Int])?["succeeded"] == 1)
            let metrics = try await server.send(.GET, "/metrics").text
            #expect(metrics.contains(#"karyon_queue_jobs{extractor="ext-texture",state="succeeded"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"karyon_jobs_finished_total{extractor="ext-texture",outcome="succeeded"} 1"#))
            let notes = try await server.send(.GET, "/api/v1/notifications", token: access).object["items"] as? [[String: Any]] ?? []
            #expect(notes.contains { $0["kind"] as? String == "analysis.finished" })
            let actions = Set(try await AuditEvent.query(on: server.app.db).all().map(\.action))
            #expect(actions.isSuperset(of: ["worker.claim", "worker.image", "worker.complete"]))
        }
    }

    @Test("fencing: after the lease expires and another attempt takes the job, the stale attempt can do nothing", arguments: TestDatabase.all)
    func fencing(database: TestDatabase) async throws {
        try await TestServer.with(database, adjust: { $0.jobLease = 1 }) { server in
            let (_, worker, _, _) = try await seeded(server)
            let stale = try #require(try await server.claim(worker, ["ext-texture"]).job)
            let id = try #require(stale["id"] as? String)
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await server.queue.reap() == 1)
            let fresh = try #require(try await server.claim(worker, ["ext-texture"]).job)
            #expect(fresh["id"] as? String == id && fresh["attempt"] as? Int == 2 && fresh["attempt_token"] as? String != stale["attempt_token"] as? String)
            let staleToken = stale["attempt_token"] as? String ?? ""
            #expect(try await server.complete(worker, stale, features: ["contrast": 1]).errorCode == "lease_lost")
            #expect(try await server.send(.POST, "/api/v1/worker/jobs/\(id)/heartbeat", token: worker, json: ["attempt_token": staleToken]).errorCode == "lease_lost")
            #expect(try await server.send(.POST, "/api/v1/worker/jobs/\(id)/fail", token: worker,
                                          json: ["attempt_token": staleToken, "error": "late"]).errorCode == "lease_lost")
            #expect(try await server.send(.GET, "/api/v1/worker/jobs/\(id)/image", token: worker, headers: [("X-Attempt-Token", staleToken)]).errorCode == "lease_lost")
            #expect(try await ResultRecord.query(on: server.app.db).count() == 0)
            #expect(try await server.job(id)?.lastError == "lease expired (worker stopped or killed)")
            #expect(try await server.complete(worker, fresh, features: ["contrast": 2]).object["outcome"] as? String == "stored")
            #expect(try await ResultRecord.query(on: server.app.db).first()?.features == #"{"contrast": 2, "energy": null}"#)
        }
    }

    @Test("features outside the declared columns are refused with 422 and the attempt fails: retried, then dead-lettered", arguments: TestDatabase.all)
    func invalidFeatures(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (_, worker, _, _) = try await seeded(server)
            let bodies: [(String, String)] = [
                (#"{"bogus": 1}"#, "'bogus' is not a declared column"),
                (#"{"contrast": "1.5"}"#, "'contrast' must be a number or null, got a string"),
                (#"{"contrast": NaN}"#, "'contrast' is nan"),
                (#"{"contrast": 1, "energy": 2, "extra": 3}"#, "3 features reported but 2 columns declared"),
                (#"{"energy": -Infinity}"#, "'energy' is -inf"),
            ]
            var id = ""
            for (attempt, (features, message)) in bodies.enumerated() {
                let job = try #require(try await server.claim(worker, ["ext-texture"]).job, "attempt \(attempt + 1)")
                id = job["id"] as? String ?? ""
                let token = job["attempt_token"] as? String ?? ""
                let reply = try await server.send(.POST, "/api/v1/worker/jobs/\(id)/complete", token: worker,
                                                  rawBody: Data(#"{"attempt_token": "\#(token)", "features": \#(features)}"#.utf8),
                                                  contentType: "application/json")
                #expect(reply.status == .unprocessableEntity && reply.errorCode == "invalid_features", "\(features): \(reply.text)")
                #expect(reply.text.contains(message), "\(reply.text)")
                let row = try #require(try await server.job(id))
                #expect(row.state == (attempt < 4 ? "failed" : "dead") && row.attempts == attempt + 1)
                #expect(row.lastError?.contains(message) == true && row.lastError?.hasPrefix("invalid result from the worker") == true)
                try await server.makeDue(id)
            }
            #expect(try await ResultRecord.query(on: server.app.db).count() == 0)
            #expect(try await server.claim(worker, ["ext-texture"]).reply.status == .noContent, "a dead job is not offered")
            let metrics = try await server.send(.GET, "/metrics").text
            #expect(metrics.contains(#"karyon_jobs_finished_total{extractor="ext-texture",outcome="dead"} 1"#))
            #expect(metrics.contains(#"karyon_queue_jobs{extractor="ext-texture",state="dead"} 1"#))

            // A body that is not a report at all changes nothing: the attempt keeps its lease.
            #expect(try await server.queue.requeue(try #require(UUID(uuidString: id))))
            let job = try #require(try await server.claim(worker, ["ext-texture"]).job)
            let malformed = try await server.complete(worker, job, features: [1, 2])
            #expect(malformed.status == .badRequest)
            #expect(try await server.job(id)?.state == "running")
            let failed = try await server.send(.POST, "/api/v1/worker/jobs/\(id)/fail", token: worker,
                                               json: ["attempt_token": job["attempt_token"] ?? "", "error": "out of memory", "retryable": false])
            #expect(failed.status == .ok && failed.object["state"] as? String == "dead")
            #expect(try await server.job(id)?.lastError == "the worker reported: out of memory")
        }
    }

    @Test("a revoked token is refused on every call, even mid-wait; its job comes back through lease expiry", arguments: TestDatabase.all)
    func revokedToken(database: TestDatabase) async throws {
        try await TestServer.with(database, adjust: { $0.jobLease = 1 }) { server in
            let (access, worker, _, _) = try await seeded(server)
            let tokenID = try #require(try await APIToken.query(on: server.app.db).first()?.id?.api)
            let job = try #require(try await server.claim(worker, ["ext-texture"]).job)
            let id = job["id"] as? String ?? ""
            #expect(try await server.send(.DELETE, "/api/v1/tokens/\(tokenID)", token: access).status == .noContent)
            let attempt = ["attempt_token": job["attempt_token"] ?? ""]
            let calls: [TestServer.Reply] = [
                try await server.claim(worker, ["ext-texture"]).reply,
                try await server.send(.GET, "/api/v1/worker/jobs/\(id)/image", token: worker, headers: [("X-Attempt-Token", attempt["attempt_token"] as? String ?? "")]),
                try await server.send(.POST, "/api/v1/worker/jobs/\(id)/heartbeat", token: worker, json: attempt),
                try await server.complete(worker, job, features: ["contrast": 1]),
                try await server.send(.POST, "/api/v1/worker/jobs/\(id)/fail", token: worker, json: attempt.merging(["error": "x"]) { $1 }),
            ]
            #expect(calls.allSatisfy { $0.status == .unauthorized }, "\(calls.map(\.status))")
            // The server's reaper (as `karyon serve` runs it) gives the abandoned claim back and
            // signals its extractor, so waiting pools need not wait for their next poll.
            let signal = try #require(server.parts).jobSignal
            let signalled = Task {
                let clock = ContinuousClock()
                return await clock.measure { await signal.wait(for: ["ext-texture"], timeout: .seconds(60)) }
            }
            let reaper = LeaseReaper(queue: server.queue, interval: 0.2, signal: signal, logger: server.app.logger)
            try await reaper.didBootAsync(server.app)
            var state = ""
            for _ in 0..<100 where state != "failed" {
                try await Task.sleep(for: .milliseconds(50))
                state = try await server.job(id)?.state ?? ""
            }
            await reaper.shutdownAsync(server.app)
            let lastError = try await server.job(id)?.lastError
            #expect(state == "failed" && lastError == "lease expired (worker stopped or killed)")
            #expect(await signalled.value < .seconds(30), "the reaper signals the returned job's extractor")
            let second = try await server.personalToken(access, name: "second").secret
            let reclaimed = try await server.claim(second, ["ext-texture"]).job
            #expect(reclaimed?["id"] as? String == id && reclaimed?["attempt"] as? Int == 2, "the abandoned job is offered again")

            // A token revoked while its claim waits gets a 401, not a job.
            let third = try await server.personalToken(access, name: "third")
            let waiting = Task { try await server.claim(third.secret, ["ext-texture"], wait: 10).reply }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await server.send(.DELETE, "/api/v1/tokens/\(third.id)", token: access).status == .noContent)
            #expect(try await waiting.value.status == .unauthorized)
        }
    }

    @Test("B cannot claim A's extractor or touch A's jobs (uniform 404); built-ins are not claimable; admins may claim any external",
          arguments: TestDatabase.all)
    func ownership(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (access, worker, study, _) = try await seeded(server)
            let (b, _) = try await server.account("b@lab.example")
            let bWorker = try await server.personalToken(b).secret
            #expect(try await server.claim(bWorker, ["ext-texture"]).reply.status == .notFound)
            #expect(try await server.claim(bWorker, ["no-such"]).reply.status == .notFound)
            let builtin = try await server.claim(bWorker, ["intensity"]).reply
            #expect(builtin.status == .unprocessableEntity && builtin.errorCode == "builtin_extractor")
            #expect(try await server.claim(bWorker, []).reply.status == .unprocessableEntity)
            #expect(try await server.claim(bWorker, ["ext-texture"], wait: 31).reply.status == .unprocessableEntity)

            let job = try #require(try await server.claim(worker, ["ext-texture"]).job)
            let id = job["id"] as? String ?? ""
            let attempt = ["attempt_token": job["attempt_token"] ?? ""]
            for reply in [try await server.send(.POST, "/api/v1/worker/jobs/\(id)/heartbeat", token: bWorker, json: attempt),
                          try await server.complete(bWorker, job, features: ["contrast": 1]),
                          try await server.send(.GET, "/api/v1/worker/jobs/\(id)/image", token: bWorker,
                                                headers: [("X-Attempt-Token", attempt["attempt_token"] as? String ?? "")]),
                          try await server.send(.POST, "/api/v1/worker/jobs/\(UUID().uuidString)/heartbeat", token: bWorker, json: attempt)] {
                #expect(reply.status == .notFound && reply.errorCode == "not_found", "\(reply.text)")
            }
            #expect(try await server.job(id)?.state == "running")

            // Karyon's own jobs are not reachable through the worker API, not even by their study's owner.
            let (owner, _) = try await server.account("own@lab.example")
            let ownerWorker = try await server.personalToken(owner).secret
            let (_, _, ownStudy) = try await server.records(token: owner)
            _ = try await server.upload([("o.png", try TestImages.png(seed: 3))], study: ownStudy, token: owner)
            let builtinJob = try #require(try await Job.query(on: server.app.db).filter(\.$extractorID == "intensity").first())
            let reply = try await server.send(.POST, "/api/v1/worker/jobs/\(builtinJob.id!.api)/fail", token: ownerWorker,
                                              json: ["attempt_token": UUID().uuidString, "error": "x"])
            #expect(reply.status == .notFound)

            #expect(try await server.complete(worker, job, features: ["contrast": 1]).status == .ok)
            try await server.promote("b@lab.example")
            #expect(try await server.upload([("g.png", try TestImages.png(seed: 77))], study: study, token: access).status == .created)
            let admin = try await server.claim(bWorker, ["ext-texture"])
            #expect(admin.reply.status == .ok, "an administrator may run any external extractor: \(admin.reply.text)")
        }
    }

    @Test("long poll: a waiting claim is woken by the upload that creates its job; an empty wait ends in 204")
    func longPoll() async throws {
        try await TestServer.with { server in
            let (access, _) = try await server.account("lp@lab.example")
            try await server.registerExtractor(access)
            let worker = try await server.personalToken(access).secret
            let (_, _, study) = try await server.records(token: access, extractors: [["id": "ext-texture"]])
            let started = ContinuousClock.now
            #expect(try await server.claim(worker, ["ext-texture"], wait: 1).reply.status == .noContent)
            #expect(ContinuousClock.now - started >= .milliseconds(900), "the claim waited for wait_seconds")

            let signal = try #require(server.parts?.jobSignal)
            let waiting = Task { try await server.claim(worker, ["ext-texture"], wait: 20).reply }
            while await signal.waiting == 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await server.upload([("w.png", try TestImages.png(seed: 12))], study: study, token: access).status == .created)
            let reply = try await waiting.value
            #expect(reply.status == .ok && (reply.object["job"] as? [String: Any])?["extractor"] as? String == "ext-texture", "\(reply.text)")
        }
    }
}
