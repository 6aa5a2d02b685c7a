import Fluent
import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonPipeline
import KaryonStore
import Testing
import Vapor
@testable import KaryonServer

@Suite("Result artefacts: label images and object tables stored encrypted with the result, GeoJSON made from them")
struct ArtefactTests {
    static func field(seed: UInt64) throws -> (png: [UInt8], image: AnyImage) {
        var spec = SyntheticFieldSpec()
        spec.width = 256
        spec.height = 256
        spec.seed = seed
        let image = AnyImage.uint8(try FieldSynthesizer.render(spec).image)
        return (try ImageCodec.encode(image, as: .png()), image)
    }

    @Test("a nuclei job stores labels, cell labels and CSV in one encrypted blob; each, and the GeoJSON made from them, downloads as the extractor made it; deleting the image shreds it",
          arguments: TestDatabase.all)
    func workersStoreArtefacts(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("art@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: [["id": "nuclei"], ["id": "intensity"]])
            let (png, decoded) = try Self.field(seed: 7)
            let upload = try await server.upload([("field.png", png)], study: study, token: token)
            #expect(upload.status == .created, "\(upload.text)")
            let image = try #require((upload.object["images"] as? [[String: Any]])?.first?["id"] as? String)
            let status = try await server.runWorkersUntilDone(study: study, token: token)
            #expect(status == "success")

            let results = try await server.send(.GET, "/api/v1/images/\(image)/results", token: token).array
            let intensity = try #require(results.first { $0["extractor"] as? String == "intensity" })
            #expect((intensity["artefacts"] as? [Any])?.isEmpty == true, "only object detectors have artefacts")
            let nuclei = try #require(results.first { $0["extractor"] as? String == "nuclei" })
            let resultID = try #require(nuclei["id"] as? String)
            let listed = try #require(nuclei["artefacts"] as? [[String: Any]])
            #expect(listed.map { $0["kind"] as? String ?? "" } == ["labels", "cell_labels", "geojson", "objects"])
            let count = try #require((nuclei["features"] as? [String: Any])?["count"] as? Int)
            #expect(count > 5)

            // What the extractor makes from the same pixels and stored parameters, run here.
            let record = try #require(try await ResultRecord.find(UUID(uuidString: resultID), on: server.app.db))
            let values = try JSONDecoder().decode([String: ParameterValue].self, from: Data(record.parameters.utf8))
            let pixelSize = try #require(try await ImageRecord.find(UUID(uuidString: image), on: server.app.db)).pixelSize
            #expect(pixelSize == 0.5)
            let direct = try ExtractorRegistry.standard.configure("nuclei", values: values)
                .run(ExtractionInput(image: decoded, pixelSizeMicrons: pixelSize), imageSHA256: record.inputSHA256)
            let objects = try #require(direct.objects)
            #expect(objects.count == count)

            var downloaded: [String: Data] = [:]
            for entry in listed {
                let href = try #require(entry["href"] as? String)
                let reply = try await server.send(.GET, href, token: token)
                #expect(reply.status == .ok, "\(href): \(reply.status)")
                #expect(reply.headers.contentType?.description.hasPrefix(entry["media_type"] as? String ?? "?") == true)
                #expect(reply.headers.first(name: .contentDisposition)?.contains("\(image)-nuclei-") == true)
                if entry["kind"] as? String == "geojson" {
                    #expect(entry["byte_size"] is NSNull, "the GeoJSON is made on request")
                } else {
                    #expect(reply.body.count == entry["byte_size"] as? Int)
                }
                downloaded[entry["kind"] as? String ?? ""] = reply.body
            }
            let labels = try ImageCodec.decode(data: [UInt8](try #require(downloaded["labels"])))
            guard case .uint16(let nucleusLabels) = labels else { Issue.record("labels are not 16-bit: \(labels.sampleType)"); return }
            let sameNuclei = nucleusLabels.pixels.map { Int32($0) } == objects.nuclei.labels
            #expect(sameNuclei, "stored labels differ from the extractor's")
            #expect(Int(nucleusLabels.pixels.max() ?? 0) == count)
            let cells = try ImageCodec.decode(data: [UInt8](try #require(downloaded["cell_labels"])))
            guard case .uint16(let cellLabels) = cells else { Issue.record("cell labels are not 16-bit"); return }
            let sameCells = cellLabels.pixels.map { Int32($0) } == objects.cells?.labels
            #expect(sameCells, "stored cell labels differ from the extractor's")
            let geoBytes = try #require(downloaded["geojson"])
            let geo = try #require(try JSONSerialization.jsonObject(with: geoBytes) as? [String: Any])
            #expect(geo["type"] as? String == "FeatureCollection")
            #expect((geo["features"] as? [Any])?.count == count)
            #expect([UInt8](geoBytes) == objects.geoJSONBytes(), "the GeoJSON made from the stored labels and CSV differs from the extractor's")
            #expect(try ResultArtefact.list(fromJSON: record.artefacts).map(\.kind) == ["labels", "cell_labels", "objects"],
                    "the GeoJSON is not stored")
            let csv = try #require(downloaded["objects"])
            #expect(String(decoding: csv, as: UTF8.self) == objects.csv)

            // Nothing of it is readable on disk: the GeoJSON's and the CSV's text appear in no file.
            for file in filesUnder(server.directory) {
                #expect(file.bytes.range(of: Data("FeatureCollection".utf8)) == nil, "plaintext GeoJSON in \(file.path)")
                #expect(file.bytes.range(of: Data(objects.csv.prefix(40).utf8)) == nil, "plaintext CSV in \(file.path)")
            }

            let missing = try await server.send(.GET, "/api/v1/results/\(resultID)/artefacts/overlay", token: token)
            #expect(missing.status == .notFound)
            #expect(missing.text.contains("labels, cell_labels, geojson, objects"), "\(missing.text)")
            let events = try await AuditEvent.query(on: server.app.db).filter(\.$action == "result.artefact").filter(\.$outcome == "success").count()
            #expect(events == 4)

            // One blob holds all four; deleting the image crypto-shreds it with the image's blob.
            let blobIDs = Set(try ResultArtefact.list(fromJSON: record.artefacts).map(\.blobID))
            #expect(blobIDs.count == 1)
            let blobs = try #require(server.parts).blobs
            #expect(blobIDs.allSatisfy { blobs.contains($0) })
            let owner = try await server.send(.DELETE, "/api/v1/images/\(image)", token: token)
            #expect(owner.status == .noContent)
            #expect(blobIDs.allSatisfy { !blobs.contains($0) })
            #expect(try await server.send(.GET, "/api/v1/results/\(resultID)/artefacts/labels", token: token).status == .notFound)
        }
    }

    @Test("a tampered artefact blob is refused with 500 integrity_error and no byte of it; the failure is audited")
    func tamperedArtefact() async throws {
        try await TestServer.with { server in
            let (token, _) = try await server.account("tamper@lab.example")
            let (_, _, study) = try await server.records(token: token)
            let upload = try await server.upload([("a.png", try TestImages.png())], study: study, token: token)
            let imageID = try #require(UUID(uuidString: (upload.object["images"] as? [[String: Any]])?.first?["id"] as? String ?? ""))
            let image = try #require(try await ImageRecord.find(imageID, on: server.app.db))
            let blobs = try #require(server.parts).blobs
            let files = [ResultArtefact.File(kind: "geojson", mediaType: "application/geo+json", bytes: Array(#"{"type": "FeatureCollection"}"#.utf8))]
            let (plaintext, artefacts) = ResultArtefact.pack(files, blobID: UUID())
            try blobs.put(plaintext, id: artefacts[0].blobID)
            let result = ResultRecord(imageID: imageID, studyID: image.studyID, jobID: nil, extractorID: "nuclei", extractorVersion: "9.9.9",
                                      parameters: "{}", parameterHash: "x", inputSHA256: image.sha256, features: "{}",
                                      artefacts: ResultArtefact.json(artefacts))
            try await result.create(on: server.app.db)
            let path = "/api/v1/results/\(result.id!.api)/artefacts/geojson"
            #expect(try await server.send(.GET, path, token: token).text == #"{"type": "FeatureCollection"}"#)

            let sealed = try #require(filesUnder(server.directory).first { $0.path.hasSuffix("\(artefacts[0].blobID.uuidString.lowercased()).blob") })
            var bytes = sealed.bytes
            bytes[bytes.count - 20] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: sealed.path))
            let refused = try await server.send(.GET, path, token: token)
            #expect(refused.status == .internalServerError)
            #expect(refused.errorCode == "integrity_error")
            #expect(!refused.text.contains("FeatureCollection"))
            #expect(try await AuditEvent.query(on: server.app.db).filter(\.$action == "result.artefact").filter(\.$outcome == "failure").count() == 1)
        }
    }

    @Test("packing puts the files one after the other; a slice past the blob's end is an integrity error")
    func packing() throws {
        let id = UUID()
        let (plaintext, artefacts) = ResultArtefact.pack([
            .init(kind: "a", mediaType: "text/plain", bytes: Array("one".utf8)),
            .init(kind: "b", mediaType: "text/plain", bytes: []),
            .init(kind: "c", mediaType: "text/plain", bytes: Array("three".utf8)),
        ], blobID: id)
        #expect(plaintext == Data("onethree".utf8))
        #expect(artefacts.map(\.offset) == [0, 3, 3])
        #expect(artefacts.map(\.byteSize) == [3, 0, 5])
        #expect(try artefacts.map { String(decoding: try $0.slice(of: plaintext), as: UTF8.self) } == ["one", "", "three"])
        #expect(try ResultArtefact.list(fromJSON: ResultArtefact.json(artefacts)) == artefacts)
        #expect(ResultArtefact.json(artefacts).contains(#""blob_id":""#))
        var beyond = artefacts[2]
        beyond.byteSize = 6
        #expect(throws: StoreError.self) { try beyond.slice(of: plaintext) }
        #expect(throws: (any Error).self) { try ResultArtefact.list(fromJSON: #"[{"kind": "a"}]"#) }
    }

    @Test("an output whose result is not stored (fenced) has its artefact blob deleted", arguments: TestDatabase.all)
    func fencedOutputIsDiscarded(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, _) = try await server.account("fence@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: [["id": "nuclei"]])
            let upload = try await server.upload([("f.png", try Self.field(seed: 3).png)], study: study, token: token)
            #expect(upload.status == .created)
            let parts = try #require(server.parts)
            let queue = JobQueue(database: server.app.db, policy: parts.queuePolicy)
            let runner = JobRunner(database: server.app.db, blobs: parts.blobs, registry: .standard)
            let job = try #require(try await queue.claim(extractors: ["nuclei"], worker: "w1"))
            let output = try await runner.run(job)
            let blob = try #require(try ResultArtefact.list(fromJSON: output.artefacts).first?.blobID)
            #expect(parts.blobs.contains(blob))
            #expect(output.files.isEmpty)
            let stale = try ClaimedJob(try #require(try await Job.find(job.id, on: server.app.db)), presenting: UUID())
            #expect(try await queue.complete(stale, output: output) == .fenced)
            await runner.discard(output)
            #expect(!parts.blobs.contains(blob))
            #expect(try await ResultRecord.query(on: server.app.db).count() == 0)
        }
    }
}
