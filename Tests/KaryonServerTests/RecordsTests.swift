import Fluent
import Foundation
import KaryonStore
import Testing
import Vapor
@testable import KaryonServer

@Suite("Records: projects, patients, studies; validation and bad input")
struct RecordsTests {
    @Test("a patient's life: create, read, patch (null clears), list, delete with audit rows", arguments: TestDatabase.all)
    func patientLifecycle(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("owner@lab.example")
            let (project, patient, _) = try await server.records(token: token)
            let read = try await server.send(.GET, "/api/v1/patients/\(patient)", token: token)
            #expect(read.status == .ok)
            #expect(read.object["surname"] as? String == "Kowalska")
            #expect(read.object["project_id"] as? String == project)
            let patched = try await server.send(.PATCH, "/api/v1/patients/\(patient)", token: token,
                                                json: ["address": NSNull(), "birth_date": "1961-03-14", "sex": "female"])
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(patched.object["address"] is NSNull)
            #expect(patched.object["birth_date"] as? String == "1961-03-14")
            let list = try await server.send(.GET, "/api/v1/patients?project_id=\(project)", token: token)
            #expect(list.object["total"] as? Int == 1)
            let deleted = try await server.send(.DELETE, "/api/v1/patients/\(patient)", token: token)
            #expect(deleted.status == .noContent)
            #expect(try await server.send(.GET, "/api/v1/patients/\(patient)", token: token).status == .notFound)
            let actions = Set(try await AuditEvent.query(on: server.app.db).all().map(\.action))
            #expect(actions.isSuperset(of: ["patient.create", "patient.read", "patient.update", "patient.list", "patient.delete"]))
            // No PHI in the audit log.
            for event in try await AuditEvent.query(on: server.app.db).all() {
                for field in [event.action, event.resourceType, event.resourceID ?? ""] {
                    #expect(!field.contains("Kowalska") && !field.contains("Kraków"))
                }
            }
        }
    }

    @Test("the audit log is append-only in the database itself", arguments: TestDatabase.all)
    func auditAppendOnly(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("audit@lab.example")
            _ = try await server.records(token: token)
            let before = try await AuditEvent.query(on: server.app.db).count()
            #expect(before > 0)
            await #expect(throws: (any Error).self) { try await AuditEvent.query(on: server.app.db).set(\.$outcome, to: "success").update() }
            await #expect(throws: (any Error).self) { try await AuditEvent.query(on: server.app.db).delete() }
            #expect(try await AuditEvent.query(on: server.app.db).count() == before)
        }
    }

    @Test("mass assignment is refused and hashes never leave the server")
    func massAssignment() async throws {
        try await TestServer.with { server in
            let register = try await server.send(.POST, "/api/v1/auth/register",
                                                 json: ["email": "m@lab.example", "password": "long enough pw", "name": "M", "role": "admin"])
            #expect(register.status == .badRequest)
            #expect(register.errorCode == "unknown_field")
            #expect(try await User.query(on: server.app.db).count() == 0)
            let (token, _) = try await server.account("m@lab.example")
            let (_, patient, _) = try await server.records(token: token)
            for field in ["id", "project_id", "created_at"] {
                let reply = try await server.send(.PATCH, "/api/v1/patients/\(patient)", token: token, json: [field: UUID().uuidString])
                #expect(reply.status == .badRequest, "\(field)")
            }
            let project = try await server.send(.POST, "/api/v1/projects", token: token, json: ["name": "P", "owner_id": UUID().uuidString])
            #expect(project.status == .badRequest)
            for path in ["/api/v1/me", "/api/v1/tokens", "/api/v1/patients/\(patient)", "/api/v1/projects"] {
                let reply = try await server.send(.GET, path, token: token)
                for secret in ["password_hash", "token_hash", "blob_id", "kid", "$2b$"] {
                    #expect(!reply.text.contains(secret), "\(path) leaks \(secret)")
                }
            }
        }
    }

    @Test("bad bodies: malformed, deep, wrong type, wrong content type, too large, bad values")
    func badBodies() async throws {
        try await TestServer.with { server in
            let (token, _) = try await server.account("bad@lab.example")
            let malformed = try await server.send(.POST, "/api/v1/projects", token: token, rawBody: Data("{\"name\": ".utf8), contentType: "application/json")
            #expect(malformed.status == .badRequest)
            #expect(malformed.errorCode == "malformed_json")
            let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            let nested = try await server.send(.POST, "/api/v1/projects", token: token, rawBody: Data(deep.utf8), contentType: "application/json")
            #expect(nested.status == .badRequest)
            let wrongType = try await server.send(.POST, "/api/v1/projects", token: token, json: ["name": 42])
            #expect(wrongType.status == .badRequest)
            #expect(wrongType.text.contains("name"))
            let form = try await server.send(.POST, "/api/v1/projects", token: token, rawBody: Data("name=x".utf8), contentType: "application/x-www-form-urlencoded")
            #expect(form.status == .unsupportedMediaType)
            let big = try await server.send(.POST, "/api/v1/projects", token: token,
                                            json: ["name": String(repeating: "x", count: 2 << 20)])
            #expect(big.status == .payloadTooLarge)
            let notObject = try await server.send(.POST, "/api/v1/projects", token: token, json: [1, 2, 3])
            #expect(notObject.status == .badRequest)
            let project = try await server.create("/api/v1/projects", token: token, ["name": "Valid"])
            let badDate = try await server.send(.POST, "/api/v1/patients", token: token,
                                                json: ["project_id": project, "surname": "A", "name": "B", "birth_date": "2999-01-01"])
            #expect(badDate.status == .unprocessableEntity)
            let badSex = try await server.send(.POST, "/api/v1/patients", token: token,
                                               json: ["project_id": project, "surname": "A", "name": "B", "sex": "robot"])
            #expect(badSex.status == .unprocessableEntity)
            #expect(try await Patient.query(on: server.app.db).count() == 0)
            let badExtractor = try await server.send(.POST, "/api/v1/studies", token: token,
                                                     json: ["patient_id": UUID().uuidString, "title": "T", "kind": "ihc"])
            #expect(badExtractor.status == .notFound)
            // Every error has the documented shape.
            for reply in [malformed, nested, wrongType, form, big, badDate] {
                let error = reply.object["error"] as? [String: Any]
                #expect(error?["code"] is String && error?["message"] is String, "\(reply.text)")
            }
        }
    }

    @Test("studies validate their extractors and parameters up front")
    func studyExtractors() async throws {
        try await TestServer.with { server in
            let (token, _) = try await server.account("st@lab.example")
            let (_, patient, _) = try await server.records(token: token)
            let unknown = try await server.send(.POST, "/api/v1/studies", token: token,
                                                json: ["patient_id": patient, "title": "T", "kind": "ihc", "extractors": [["id": "no-such"]]])
            #expect(unknown.status == .unprocessableEntity)
            let badParam = try await server.send(.POST, "/api/v1/studies", token: token,
                                                 json: ["patient_id": patient, "title": "T", "kind": "ihc",
                                                        "extractors": [["id": "glcm", "parameters": ["levels": "many"]]]])
            #expect(badParam.status == .unprocessableEntity)
            let extra = try await server.send(.POST, "/api/v1/studies", token: token,
                                              json: ["patient_id": patient, "title": "T", "kind": "ihc", "extractors": [["id": "glcm", "version": "9"]]])
            #expect(extra.status == .badRequest)
            let ok = try await server.send(.POST, "/api/v1/studies", token: token,
                                           json: ["patient_id": patient, "title": "T", "kind": "ihc",
                                                  "extractors": [["id": "nuclei"], ["id": "ki67", "parameters": ["single_threshold": false]]]])
            #expect(ok.status == .created, "\(ok.text)")
            let subs = ok.object["extractors"] as? [[String: Any]] ?? []
            #expect(subs.map { $0["id"] as? String } == ["nuclei", "ki67"])
            #expect(ok.object["status"] as? String == "empty")
        }
    }

    @Test("viewers read but do not write; non-members see nothing; page size is capped")
    func roles() async throws {
        try await TestServer.with { server in
            let (owner, _) = try await server.account("o@lab.example")
            let (viewer, _) = try await server.account("v@lab.example")
            let (project, patient, _) = try await server.records(token: owner)
            let add = try await server.send(.POST, "/api/v1/projects/\(project)/members", token: owner, json: ["email": "v@lab.example", "role": "viewer"])
            #expect(add.status == .created)
            #expect(try await server.send(.GET, "/api/v1/patients/\(patient)", token: viewer).status == .ok)
            let write = try await server.send(.PATCH, "/api/v1/patients/\(patient)", token: viewer, json: ["notes": "x"])
            #expect(write.status == .forbidden)
            let promote = try await server.send(.POST, "/api/v1/projects/\(project)/members", token: viewer, json: ["email": "v@lab.example", "role": "owner"])
            #expect(promote.status == .forbidden)
            let lastOwner = try await server.send(.POST, "/api/v1/projects/\(project)/members", token: owner, json: ["email": "o@lab.example", "role": "viewer"])
            #expect(lastOwner.status == .conflict)
            let capped = try await server.send(.GET, "/api/v1/patients?limit=1000000", token: owner)
            #expect(capped.object["limit"] as? Int == server.configuration.maxPageSize)
            #expect(try await server.send(.GET, "/api/v1/audit", token: owner).status == .forbidden)
            #expect(try await server.send(.GET, "/api/v1/admin/users", token: viewer).status == .forbidden)
        }
    }
}
