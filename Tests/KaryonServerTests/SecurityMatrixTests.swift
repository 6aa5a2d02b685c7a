import Fluent
import Foundation
import KaryonStore
import Testing
import Vapor
@testable import KaryonServer

@Suite("Object-level authorisation matrix and the OpenAPI contract")
struct SecurityMatrixTests {
    /// Routes whose ids are not owned by a user's projects, with the reason.
    static let notObjectScoped: [String: String] = [
        "GET /api/v1/extractors/{name}": "the extractor registry is public to every signed-in user",
    ]

    @Test("user B gets 404/403 on every route that takes one of A's ids; nothing of A changes; each denial is audited",
          arguments: TestDatabase.all)
    func bolaMatrix(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (a, aID) = try await server.account("a@lab.example")
            let (b, _) = try await server.account("b@lab.example")
            let (project, patient, study) = try await server.records(token: a)
            let upload = try await server.upload([("a.png", try TestImages.png())], study: study, token: a)
            #expect(upload.status == .created, "\(upload.text)")
            let image = ((upload.object["images"] as? [[String: Any]])?.first?["id"] as? String) ?? ""
            let token = try await server.send(.POST, "/api/v1/tokens", token: a, json: ["name": "a's"]).object["id"] as? String ?? ""
            let note = UserNotification(userID: UUID(uuidString: aID)!, kind: "analysis.finished", message: "done", resourceType: "study",
                                    resourceID: UUID(uuidString: study))
            try await note.create(on: server.app.db)
            // A's external extractor, subscribed by A's study (backfilling the image) and one of its
            // jobs claimed by A's worker: B must not see, claim or report on it.
            let registered = try await server.send(.POST, "/api/v1/extractors", token: a, json: [
                "id": "a-ext", "version": "1.0.0", "summary": "A's texture", "columns": ["x"]])
            #expect(registered.status == .created, "\(registered.text)")
            let subscribed = try await server.send(.POST, "/api/v1/studies/\(study)/extractors", token: a, json: ["id": "a-ext"])
            #expect(subscribed.status == .created && subscribed.object["backfilled"] as? Int == 1, "\(subscribed.text)")
            let subscription = subscribed.object["subscription_id"] as? String ?? ""
            let worker = try await server.personalToken(a).secret
            let claimed = try await server.send(.POST, "/api/v1/worker/claim", token: worker, json: ["extractors": ["a-ext"]])
            #expect(claimed.status == .ok, "\(claimed.text)")
            let externalJob = (claimed.object["job"] as? [String: Any])?["id"] as? String ?? ""
            // A result of A's image with an artefact (a GeoJSON naming A's patient).
            let imageRecord = try #require(try await ImageRecord.find(UUID(uuidString: image), on: server.app.db))
            let (plaintext, artefacts) = ResultArtefact.pack([.init(kind: "geojson", mediaType: "application/geo+json",
                                                                    bytes: Array(#"{"name": "Kowalska"}"#.utf8))], blobID: UUID())
            try #require(server.parts).blobs.put(plaintext, id: artefacts[0].blobID)
            let result = ResultRecord(imageID: imageRecord.id!, studyID: imageRecord.studyID, jobID: nil, extractorID: "nuclei",
                                      extractorVersion: "0.0.1", parameters: "{}", parameterHash: "h", inputSHA256: imageRecord.sha256,
                                      features: "{}", artefacts: ResultArtefact.json(artefacts))
            try await result.create(on: server.app.db)
            #expect(try await server.send(.GET, "/api/v1/results/\(result.id!.api)/artefacts/geojson", token: a).text.contains("Kowalska"))
            let ids: [String: String] = [
                "/api/v1/projects/{id}": project, "/api/v1/patients/{id}": patient, "/api/v1/studies/{id}": study,
                "/api/v1/images/{id}": image, "/api/v1/tokens/{id}": token, "/api/v1/notifications/{id}": note.id!.api,
                "/api/v1/admin/users/{id}": aID,
                "/api/v1/admin/jobs/{id}": try await Job.query(on: server.app.db).first()?.id?.api ?? "",
                "/api/v1/worker/jobs/{id}": externalJob, "/api/v1/results/{id}": result.id!.api,
            ]
            let before = try await snapshot(server)
            let deniedBefore = try await AuditEvent.query(on: server.app.db).filter(\.$outcome == "denied").count()
            var checked = 0
            for op in server.app.routes.all.map({ ($0.method, "/" + $0.path.map(\.description).joined(separator: "/")) })
                where op.1.contains(":") {
                let template = op.1.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
                let key = "\(op.0.rawValue) /\(template)"
                if Self.notObjectScoped[key] != nil { continue }
                guard let prefix = ids.keys.first(where: { ("/" + template).hasPrefix($0) }),
                      let id = ids[prefix] else {
                    Issue.record("route \(key) has no entry in the authorisation matrix")
                    continue
                }
                var path = "/" + template.replacingOccurrences(of: "{id}", with: id)
                path = path.replacingOccurrences(of: "{user_id}", with: aID).replacingOccurrences(of: "{subscription_id}", with: subscription)
                    .replacingOccurrences(of: "{kind}", with: "geojson")
                let body: Any? = op.0 == .POST || op.0 == .PATCH ? ["name": "x", "email": "b@lab.example", "role": "owner", "notes": "B was here"] : nil
                let reply: TestServer.Reply
                if path.hasSuffix("/images"), op.0 == .POST {
                    reply = try await server.upload([("b.png", try TestImages.png(seed: 99))], study: study, token: b)
                } else {
                    reply = try await server.send(op.0, path, token: b, json: body)
                }
                #expect(reply.status == .notFound || reply.status == .forbidden, "\(key) as B: \(reply.status) \(reply.text)")
                #expect(!reply.text.contains("Kowalska") && !reply.text.contains("Ki-67 biopsy"), "\(key) leaks A's data")
                checked += 1
            }
            #expect(checked >= 20)
            #expect(try await snapshot(server) == before, "B changed A's records")
            let deniedAfter = try await AuditEvent.query(on: server.app.db).filter(\.$outcome == "denied").count()
            #expect(deniedAfter - deniedBefore >= checked)
            // Lists show B none of A's rows.
            for path in ["/api/v1/patients", "/api/v1/studies", "/api/v1/projects", "/api/v1/notifications", "/api/v1/tokens"] {
                let reply = try await server.send(.GET, path, token: b)
                #expect(reply.status == .ok)
                #expect(!reply.text.contains(patient) && !reply.text.contains(study) && !reply.text.contains(project), "\(path)")
            }
        }
    }

    /// Everything B could have changed, as comparable text.
    func snapshot(_ server: TestServer) async throws -> [String] {
        let db = server.app.db
        var rows: [String] = []
        rows += try await Patient.query(on: db).all().map { "\($0.id!) \($0.surname) \($0.notes ?? "") \($0.updatedAt)" }
        rows += try await Study.query(on: db).all().map { "\($0.id!) \($0.title)" }
        rows += try await ImageRecord.query(on: db).all().map { "\($0.id!) \($0.sha256)" }
        rows += try await ProjectMember.query(on: db).all().map { "\($0.projectID) \($0.userID) \($0.role)" }
        rows += try await APIToken.query(on: db).all().map { "\($0.id!) \($0.revokedAt == nil)" }
        rows += try await UserNotification.query(on: db).all().map { "\($0.id!) \($0.readAt == nil)" }
        rows += try await User.query(on: db).all().map { "\($0.id!) \($0.role)" }
        rows += try await StudyExtractor.query(on: db).all().map { "\($0.id!) \($0.extractorID) \($0.extractorVersion)" }
        rows += try await Job.query(on: db).all().map {
            "\($0.id!) \($0.state) \($0.attempts) \($0.attemptToken?.uuidString ?? "-") \($0.leaseExpiresAt?.timeIntervalSince1970 ?? 0)"
        }
        rows += try await ResultRecord.query(on: db).all().map { "\($0.id!) \($0.features) \($0.artefacts)" }
        rows += try await Algorithm.query(on: db).all().map { "\($0.id!) \($0.version) \($0.ownerID?.uuidString ?? "-")" }
        return rows.sorted()
    }

    @Test("the OpenAPI document describes exactly the routes that exist, and every reference resolves")
    func openAPIMatchesRoutes() async throws {
        try await TestServer.with { server in
            let reply = try await server.send(.GET, "/openapi.json")
            #expect(reply.status == .ok)
            let document = reply.object
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var documented = Set<String>()
            for (path, methods) in paths { for method in methods.keys { documented.insert("\(method.uppercased()) \(path)") } }
            var served = Set<String>()
            for route in server.app.routes.all {
                let path = "/" + route.path.map { $0.description.hasPrefix(":") ? "{\($0.description.dropFirst())}" : $0.description }.joined(separator: "/")
                served.insert("\(route.method.rawValue) \(path)")
            }
            #expect(documented == served, "undocumented: \(served.subtracting(documented).sorted()); not served: \(documented.subtracting(served).sorted())")
            let schemas = ((document["components"] as? [String: Any])?["schemas"] as? [String: Any]) ?? [:]
            let responses = ((document["components"] as? [String: Any])?["responses"] as? [String: Any]) ?? [:]
            for ref in references(in: document) {
                let name = String(ref.split(separator: "/").last ?? "")
                if ref.hasPrefix("#/components/schemas/") { #expect(schemas[name] != nil, "unresolved \(ref)") }
                else if ref.hasPrefix("#/components/responses/") { #expect(responses[name] != nil, "unresolved \(ref)") }
                else { Issue.record("unexpected reference \(ref)") }
            }
        }
    }

    func references(in value: Any) -> [String] {
        if let object = value as? [String: Any] {
            return (object["$ref"] as? String).map { [$0] } ?? [] + object.values.flatMap(references)
        }
        if let array = value as? [Any] { return array.flatMap(references) }
        return []
    }
}
