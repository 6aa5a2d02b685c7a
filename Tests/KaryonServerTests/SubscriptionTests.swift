import Fluent
import Foundation
import KaryonStore
import Testing
import Vapor
@testable import KaryonServer

@Suite("Study subscriptions: subscribe with backfill, unsubscribe, validation and access")
struct SubscriptionTests {
    func jobs(_ server: TestServer, _ extractor: String, parameterHash: String? = nil) async throws -> [Job] {
        let query = Job.query(on: server.app.db).filter(\.$extractorID == extractor)
        if let parameterHash { query.filter(\.$parameterHash == parameterHash) }
        return try await query.all()
    }

    @Test("backfill queues one job per existing image and never a duplicate; later uploads get every subscription; unsubscribe keeps results",
          arguments: TestDatabase.all)
    func backfillAndUnsubscribe(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (access, _) = try await server.account("sub@lab.example")
            try await server.registerExtractor(access)
            let worker = try await server.personalToken(access).secret
            let (_, _, study) = try await server.records(token: access)
            let files = try (0..<3).map { ("i\($0).png", try TestImages.png(seed: 60 + $0)) }
            #expect(try await server.upload(files, study: study, token: access).status == .created)
            #expect(try await jobs(server, "intensity").count == 3)

            let glcm = try await server.send(.POST, "/api/v1/studies/\(study)/extractors", token: access, json: ["id": "glcm"])
            #expect(glcm.status == .created && glcm.object["backfilled"] as? Int == 3, "\(glcm.text)")
            #expect(glcm.object["version"] as? String == "1.0.0" && (glcm.object["parameters"] as? [String: Any])?["levels"] as? Int == 256)
            #expect(try await jobs(server, "glcm").count == 3)
            let twice = try await server.send(.POST, "/api/v1/studies/\(study)/extractors", token: access, json: ["id": "glcm"])
            #expect(twice.status == .conflict && twice.errorCode == "already_subscribed")
            #expect(try await jobs(server, "glcm").count == 3, "a refused subscription adds nothing")
            let quiet = try await server.send(.POST, "/api/v1/studies/\(study)/extractors", token: access,
                                              json: ["id": "glcm", "parameters": ["levels": 8], "backfill": false])
            #expect(quiet.status == .created && quiet.object["backfilled"] as? Int == 0)
            let quietHash = try #require(quiet.object["parameter_hash"] as? String)
            #expect(try await jobs(server, "glcm", parameterHash: quietHash).isEmpty)

            let external = try await server.send(.POST, "/api/v1/studies/\(study)/extractors", token: access,
                                                 json: ["id": "ext-texture", "parameters": ["mode": "exact"]])
            #expect(external.status == .created && external.object["backfilled"] as? Int == 3, "\(external.text)")
            let subscription = try #require(external.object["subscription_id"] as? String)
            let shown = try await server.send(.GET, "/api/v1/studies/\(study)", token: access).object["extractors"] as? [[String: Any]] ?? []
            #expect(shown.compactMap { $0["id"] as? String }.sorted() == ["ext-texture", "glcm", "glcm", "intensity"])

            // A new image gets a job from every subscription, the one without backfill included.
            #expect(try await server.upload([("new.png", try TestImages.png(seed: 70))], study: study, token: access).status == .created)
            #expect(try await jobs(server, "glcm", parameterHash: quietHash).count == 1)
            #expect(try await jobs(server, "ext-texture").count == 4)

            // One external result, then unsubscribe: waiting jobs go, the result and its job stay.
            let job = try #require(try await server.claim(worker, ["ext-texture"]).job)
            #expect(try await server.complete(worker, job, features: ["contrast": 3]).status == .ok)
            let gone = try await server.send(.DELETE, "/api/v1/studies/\(study)/extractors/\(subscription)", token: access)
            #expect(gone.status == .noContent)
            let left = try await jobs(server, "ext-texture")
            #expect(left.count == 1 && left.first?.state == "succeeded")
            #expect(try await ResultRecord.query(on: server.app.db).filter(\.$extractorID == "ext-texture").count() == 1)
            #expect(try await server.upload([("after.png", try TestImages.png(seed: 71))], study: study, token: access).status == .created)
            #expect(try await jobs(server, "ext-texture").count == 1, "no jobs after unsubscribing")
            #expect(try await server.send(.DELETE, "/api/v1/studies/\(study)/extractors/\(subscription)", token: access).status == .notFound)

            // Subscribing again backfills only the images without a job or result of it.
            let again = try await server.send(.POST, "/api/v1/studies/\(study)/extractors", token: access,
                                              json: ["id": "ext-texture", "parameters": ["mode": "exact"]])
            #expect(again.status == .created && again.object["backfilled"] as? Int == 4, "\(again.text)")
            #expect(try await jobs(server, "ext-texture").count == 5)
            let images = try await ImageRecord.query(on: server.app.db).count()
            for extractor in ["intensity", "glcm", "ext-texture"] {
                let perImage = Dictionary(grouping: try await jobs(server, extractor), by: { "\($0.imageID)\($0.parameterHash)" })
                #expect(perImage.values.allSatisfy { $0.count == 1 }, "\(extractor): one job per image and parameters")
            }
            #expect(images == 5)
            let actions = try await AuditEvent.query(on: server.app.db).all().map(\.action)
            #expect(actions.filter { $0 == "study.subscribe" }.count == 4 && actions.contains("study.unsubscribe"))
        }
    }

    @Test("uploads racing a subscription: every image ends with exactly one job of it", arguments: TestDatabase.all)
    func racingUploads(database: TestDatabase) async throws {
        try await TestServer.with(database, adjust: { $0.maxConcurrentUploadsPerUser = 16 }) { server in
            let (access, _) = try await server.account("race@lab.example")
            let (_, _, study) = try await server.records(token: access)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponseStatus.self) { group in
                for n in 0..<6 {
                    group.addTask { try await server.upload([("r\(n).png", try TestImages.png(seed: 200 + n))], study: study, token: access).status }
                }
                group.addTask {
                    try await server.send(.POST, "/api/v1/studies/\(study)/extractors", token: access, json: ["id": "color"]).status
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .created }, "\(statuses)")
            let images = try await ImageRecord.query(on: server.app.db).all().compactMap(\.id)
            let color = try await jobs(server, "color")
            #expect(images.count == 6 && color.count == 6 && Set(color.map(\.imageID)) == Set(images))
        }
    }

    @Test("a new version of an external extractor: subscribing again moves the subscription and backfills the new version")
    func versionUpgrade() async throws {
        try await TestServer.with { server in
            let (access, _) = try await server.account("up@lab.example")
            try await server.registerExtractor(access)
            let (_, _, study) = try await server.records(token: access, extractors: [["id": "ext-texture"]])
            #expect(try await server.upload([("a.png", try TestImages.png(seed: 5))], study: study, token: access).status == .created)
            #expect(try await server.registerExtractor(access, version: "1.1.0").status == .ok)
            let moved = try await server.send(.POST, "/api/v1/studies/\(study)/extractors", token: access, json: ["id": "ext-texture"])
            #expect(moved.status == .ok && moved.object["version"] as? String == "1.1.0" && moved.object["backfilled"] as? Int == 1, "\(moved.text)")
            #expect(Set(try await jobs(server, "ext-texture").map(\.extractorVersion)) == ["1.0.0", "1.1.0"])
            #expect(try await StudyExtractor.query(on: server.app.db).filter(\.$extractorID == "ext-texture").count() == 1)
        }
    }

    @Test("bad subscriptions are refused with nothing stored; viewers 403, strangers 404; foreign external extractors 422",
          arguments: TestDatabase.all)
    func refusals(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (owner, _) = try await server.account("o@lab.example")
            let (viewer, _) = try await server.account("v@lab.example")
            let (stranger, _) = try await server.account("s@lab.example")
            try await server.registerExtractor(stranger, id: "strangers")
            let (project, patient, study) = try await server.records(token: owner)
            #expect(try await server.send(.POST, "/api/v1/projects/\(project)/members", token: owner,
                                          json: ["email": "v@lab.example", "role": "viewer"]).status == .created)
            #expect(try await server.upload([("a.png", try TestImages.png(seed: 8))], study: study, token: owner).status == .created)
            let path = "/api/v1/studies/\(study)/extractors"
            let cases: [([String: Any], HTTPResponseStatus, String)] = [
                (["id": "no-such"], .unprocessableEntity, "unknown_extractor"),
                (["id": "glcm", "parameters": ["levels": 1]], .unprocessableEntity, "parameter_out_of_bounds"),
                (["id": "glcm", "parameters": ["nope": 1]], .unprocessableEntity, "unknown_parameter"),
                (["id": "strangers"], .unprocessableEntity, "extractor_not_shared"),
                (["id": "glcm", "version": "2"], .badRequest, "unknown_field"),
                (["id": "glcm", "backfill": "yes"], .badRequest, "invalid_field"),
            ]
            for (body, status, code) in cases {
                let reply = try await server.send(.POST, path, token: owner, json: body)
                #expect(reply.status == status && reply.errorCode == code, "\(body): \(reply.text)")
            }
            // Study creation takes the same path: a stranger's extractor is refused there too.
            let created = try await server.send(.POST, "/api/v1/studies", token: owner,
                                                json: ["patient_id": patient, "title": "T", "kind": "ihc", "extractors": [["id": "strangers"]]])
            #expect(created.status == .unprocessableEntity && created.errorCode == "extractor_not_shared")
            // An external extractor's declared schema is enforced like a built-in's.
            try await server.registerExtractor(owner)
            for (parameters, code) in [(["distance": 9], "parameter_out_of_bounds"), (["mode": "slow"], "invalid_parameter"),
                                       (["depth": 1], "unknown_parameter")] as [([String: Any], String)] {
                let reply = try await server.send(.POST, path, token: owner, json: ["id": "ext-texture", "parameters": parameters])
                #expect(reply.errorCode == code, "\(parameters): \(reply.text)")
            }
            #expect(try await server.send(.POST, path, token: viewer, json: ["id": "glcm"]).status == .forbidden)
            #expect(try await server.send(.POST, path, token: stranger, json: ["id": "glcm"]).status == .notFound)
            #expect(try await StudyExtractor.query(on: server.app.db).count() == 1, "only the study's creation subscription")
            #expect(try await Job.query(on: server.app.db).count() == 1)

            // Once its owner joins the project, the external extractor may analyse the study.
            #expect(try await server.send(.POST, "/api/v1/projects/\(project)/members", token: owner,
                                          json: ["email": "s@lab.example", "role": "viewer"]).status == .created)
            let shared = try await server.send(.POST, path, token: owner, json: ["id": "strangers"])
            #expect(shared.status == .created && shared.object["backfilled"] as? Int == 1, "\(shared.text)")
            let subscription = try #require(shared.object["subscription_id"] as? String)
            #expect(try await server.send(.DELETE, "\(path)/\(subscription)", token: viewer).status == .forbidden)
            #expect(try await server.send(.DELETE, "\(path)/\(UUID().uuidString)", token: owner).status == .notFound)
            #expect(try await server.send(.DELETE, "\(path)/not-a-uuid", token: owner).status == .notFound)
        }
    }
}
