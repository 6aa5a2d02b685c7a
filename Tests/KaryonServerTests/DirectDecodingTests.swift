import Fluent
import Foundation
import KaryonStore
import Testing
@testable import KaryonServer

@Suite("Models read directly equal the same rows read through Fluent")
struct DirectDecodingTests {
    /// Text that compares every field of a model (Fluent models encode all their fields).
    static func text<M: Model>(_ model: M) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .secondsSince1970
        return String(decoding: try encoder.encode(model), as: UTF8.self)
    }

    static func check<M: DirectlyDecodable>(_ type: M.Type, on db: any Database, atLeast: Int = 1) async throws {
        #expect(Set(M.columns) == Set(M.keys.map(\.description)), "\(M.schema): the column list differs from the model's fields")
        #expect(M.columns.count == Set(M.columns).count, "\(M.schema): a column is listed twice")
        let viaFluent = try await M.query(on: db).all()
        #expect(viaFluent.count >= atLeast, "\(M.schema): no rows to compare")
        for model in viaFluent {
            let id = try #require(model.id)
            let direct = try #require(try await M.findDirectly(id, on: db))
            #expect(try text(direct) == text(model), "\(M.schema) \(id)")
            #expect(direct._$idExists)
        }
        #expect(try await M.findDirectly(UUID(), on: db) == nil)
    }

    @Test("patients, studies, images, projects and results: every field, nulls included; a directly read row can be updated",
          arguments: TestDatabase.all)
    func sameRows(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("direct@lab.example")
            let (_, patient, study) = try await server.records(token: token)
            // One patient with every optional field set, one with none.
            let full = try await server.send(.PATCH, "/api/v1/patients/\(patient)", token: token, json: [
                "birth_date": "1961-04-12", "sex": "female", "external_id": "MRN-1", "notes": "ER+"])
            #expect(full.status == .ok, "\(full.text)")
            let project = try #require(try await Patient.find(UUID(uuidString: patient), on: server.app.db)).projectID.api
            _ = try await server.create("/api/v1/patients", token: token, ["project_id": project, "surname": "Nowak", "name": "Jan"])
            let upload = try await server.upload([("a.png", try TestImages.png()), ("b.png", try TestImages.png(seed: 5))], study: study, token: token)
            #expect(upload.status == .created)
            let image = try #require(try await ImageRecord.query(on: server.app.db).first())
            try await ResultRecord(imageID: image.id!, studyID: image.studyID, jobID: nil, extractorID: "x", extractorVersion: "1.0.0",
                                   parameters: "{}", parameterHash: "h", inputSHA256: image.sha256, features: #"{"a": 1}"#).create(on: server.app.db)
            try await ResultRecord(imageID: image.id!, studyID: image.studyID, jobID: UUID(), extractorID: "y", extractorVersion: "1.0.0",
                                   parameters: "{}", parameterHash: "h", inputSHA256: image.sha256, features: "{}",
                                   artefacts: "[]").create(on: server.app.db)
            let db = server.app.db
            try await Self.check(Patient.self, on: db, atLeast: 2)
            try await Self.check(Study.self, on: db)
            try await Self.check(ImageRecord.self, on: db, atLeast: 2)
            try await Self.check(Project.self, on: db)
            try await Self.check(ResultRecord.self, on: db, atLeast: 2)

            // Updating a directly read model writes the change and keeps the other fields.
            let direct = try #require(try await Patient.findDirectly(UUID(uuidString: patient)!, on: db))
            direct.notes = "changed"
            try await direct.update(on: db)
            let reread = try #require(try await Patient.find(UUID(uuidString: patient), on: db))
            #expect(reread.notes == "changed" && reread.externalID == "MRN-1" && reread.surname == "Kowalska")
            #expect(try await Patient.query(on: db).count() == 2)
        }
    }
}
