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

    /// The row of `id` as text, read through Fluent, without the columns that must differ.
    static func stored<M: Model>(_ type: M.Type, _ id: UUID, on db: any Database) async throws -> String where M.IDValue == UUID {
        let model = try #require(try await M.find(id, on: db))
        var object = try #require(try JSONSerialization.jsonObject(with: Data(text(model).utf8)) as? [String: Any])
        object["id"] = nil
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
    }

    @Test("images and jobs inserted directly are stored exactly as Fluent stores them, nulls and dates included",
          arguments: TestDatabase.all)
    func sameInserts(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("insert@lab.example")
            let (_, _, study) = try await server.records(token: token)
            let db = server.app.db
            let owner = try #require(try await Study.find(UUID(uuidString: study), on: db))
            #expect(Set(ImageRecord.columns) == Set(ImageRecord.keys.map(\.description)))
            #expect(Set(Job.columns) == Set(Job.keys.map(\.description)))
            #expect(Job.columns.count == Set(Job.columns).count)
            let when = Date(timeIntervalSince1970: 1_790_000_000.123456)
            func image(_ name: String?, pixelSize: Double?) -> ImageRecord {
                ImageRecord(studyID: owner.id!, projectID: owner.projectID, blobID: UUID(), sha256: "ab" + UUID().uuidString, byteSize: 1234,
                            width: 640, height: 480, channels: 3, bitDepth: 8, format: "png", pixelSize: pixelSize,
                            originalName: name, createdBy: owner.createdBy, createdAt: when)
            }
            for (name, size) in [("field ü.png", 0.25), (nil, nil)] as [(String?, Double?)] {
                let a = image(name, pixelSize: size), b = image(name, pixelSize: size)
                b.sha256 = a.sha256 + "x"
                try await a.create(on: db)
                try await ImageRecord.insert([b], on: db)
                var textA = try await Self.stored(ImageRecord.self, a.id!, on: db)
                let textB = try await Self.stored(ImageRecord.self, b.id!, on: db)
                textA = textA.replacingOccurrences(of: a.blobID.uuidString, with: b.blobID.uuidString)
                    .replacingOccurrences(of: "\"\(a.sha256)\"", with: "\"\(b.sha256)\"")
                #expect(textA == textB)
                // Jobs, fresh and with every optional column set.
                let fresh = [Job(imageID: a.id!, studyID: owner.id!, extractorID: "e", extractorVersion: "1.0.0", parameters: #"{"k": 1}"#,
                                 parameterHash: "h", createdAt: when),
                             Job(imageID: b.id!, studyID: owner.id!, extractorID: "e", extractorVersion: "1.0.0", parameters: #"{"k": 1}"#,
                                 parameterHash: "h", createdAt: when)]
                for job in fresh where name != nil {
                    job.state = "failed"; job.attempts = 2; job.leaseExpiresAt = when; job.attemptToken = UUID(); job.workerID = "w"
                    job.lastError = "boom"; job.finishedAt = when; job.claimedAt = when
                }
                fresh[1].attemptToken = fresh[0].attemptToken
                try await fresh[0].create(on: db)
                try await Job.insert([fresh[1]], on: db)
                let jobA = try await Self.stored(Job.self, fresh[0].id!, on: db)
                let jobB = try await Self.stored(Job.self, fresh[1].id!, on: db)
                #expect(jobA.replacingOccurrences(of: a.id!.uuidString, with: b.id!.uuidString) == jobB)
            }
            try await Self.check(StudyExtractor.self, on: db)
        }
    }
}
