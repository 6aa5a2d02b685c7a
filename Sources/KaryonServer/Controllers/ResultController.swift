import Fluent
import KaryonAnalysis
import KaryonPipeline
import KaryonStore
import Vapor

/// Analysis results: per image (JSON, with the state of every expected job) and per study
/// (JSON or one CSV row per image).
struct ResultController: Sendable {
    let context: AppContext

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .GET, path: "/api/v1/images/{id}/results",
                                   summary: "Every expected result of an image: extractor, version, parameters, status, features",
                                   tag: "results", response: .array(.ref("Result")), errors: [404]), on: routes, use: forImage)
        catalog.register(Operation(method: .GET, path: "/api/v1/studies/{id}/results",
                                   summary: "A study's results, JSON (one object per image and extractor) or CSV (format=csv: one row per image)",
                                   tag: "results", query: [("format", .string(enumeration: ["json", "csv"]), "json (default) or csv.")],
                                   response: .array(.ref("Result")), errors: [404, 422]), on: routes, use: forStudy)
        catalog.register(Operation(method: .GET, path: "/api/v1/results/{id}/artefacts/{kind}",
                                   summary: "A file derived by the analysis, decrypted and verified: labels / cell_labels (16-bit PNG instance labels), "
                                       + "geojson (objects for QuPath), objects (CSV, one row per object)",
                                   tag: "results", pathParameters: ["kind": .string(description: "An artefact kind the result lists.")],
                                   response: .binary, responseMediaType: "application/octet-stream", errors: [404, 500]),
                         on: routes, use: artefact)
    }

    @Sendable func artefact(_ req: Request) async throws -> Response {
        let result = try await context.access.result(req, .read, action: "result.artefact")
        let kind = req.parameters.get("kind") ?? ""
        let artefacts: [ResultArtefact]
        do {
            artefacts = try ResultArtefact.list(fromJSON: result.artefacts)
        } catch {
            req.logger.error("unreadable artefacts column", metadata: ["result.id": "\(result.id!)", "error": "\(error)"])
            throw APIError(.internalServerError, "storage_error", "The result's list of artefacts is damaged.")
        }
        let derived = kind == "geojson" ? Self.derivedGeoJSON(in: artefacts) : nil
        guard let artefact = artefacts.first(where: { $0.kind == kind }) ?? derived else {
            let kinds = Self.listed(artefacts).map(\.kind)
            throw APIError(.notFound, "not_found", kinds.isEmpty ? "This result has no artefacts."
                           : "This result has no artefact '\(kind.prefix(64))'; it has \(kinds.joined(separator: ", ")).")
        }
        let blob = try await context.blobBytes(req, artefact.blobID, resource: "result", id: result.id, what: "stored artefact",
                                               action: "result.artefact")
        let bytes: Data
        do {
            if derived != nil {
                var slices: [String: Data] = [:]
                for a in artefacts where a.blobID == artefact.blobID { slices[a.kind] = try a.slice(of: blob) }
                let stored = slices
                bytes = try await req.application.threadPool.runIfActive {
                    guard let made = try JobRunner.derivedGeoJSON(from: stored) else {
                        throw StoreError(.integrity, "the stored artefacts do not make a GeoJSON")
                    }
                    return Data(made)
                }
            } else {
                bytes = try artefact.slice(of: blob)
            }
        } catch {
            try? await context.audit.record(req, "result.artefact", "result", result.id, outcome: .failure)
            req.logger.error("artefact not sent", metadata: ["result.id": "\(result.id!)", "kind": "\(kind)", "error": "\(error)"])
            throw APIError(.internalServerError, "integrity_error", "The stored artefact does not match its record and was not sent.")
        }
        try await context.audit.record(req, "result.artefact", "result", result.id)
        var headers = HTTPHeaders()
        headers.add(name: .contentType, value: artefact.mediaType)
        headers.add(name: .contentDisposition, value: "attachment; filename=\"\(Self.fileName(result, artefact))\"")
        headers.add(name: .cacheControl, value: "private, no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        return Response(status: .ok, headers: headers, body: .init(data: bytes))
    }

    /// `<image id>-<extractor>-<kind>.<extension>`.
    static func fileName(_ result: ResultRecord, _ artefact: ResultArtefact) -> String {
        let ext = switch artefact.mediaType.split(separator: ";").first.map(String.init) {
        case "image/png": "png"
        case "image/tiff": "tif"
        case "application/geo+json": "geojson"
        case "application/json": "json"
        case "text/csv": "csv"
        default: "bin"
        }
        let safe = { (s: String) in String(s.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }) }
        return "\(result.imageID.api)-\(safe(result.extractorID))-\(safe(artefact.kind)).\(ext)"
    }

    /// The `geojson` a result makes on request from its label images and CSV
    /// (``JobRunner/derivedGeoJSON(from:)``) when it does not store one: listed with the blob that
    /// holds those (one blob) and `byte_size` −1, not known until made. Nil otherwise.
    static func derivedGeoJSON(in stored: [ResultArtefact]) -> ResultArtefact? {
        let sources = stored.filter { ["labels", "cell_labels", "objects"].contains($0.kind) }
        guard !stored.contains(where: { $0.kind == "geojson" }), let labels = sources.first(where: { $0.kind == "labels" }),
              sources.contains(where: { $0.kind == "objects" }), Set(sources.map(\.blobID)).count == 1 else { return nil }
        return ResultArtefact(kind: "geojson", blobID: labels.blobID, mediaType: "application/geo+json", offset: 0, byteSize: -1)
    }

    /// A result's artefacts as clients see them: the stored ones, with a derived `geojson` before `objects`.
    static func listed(_ stored: [ResultArtefact]) -> [ResultArtefact] {
        guard let geoJSON = derivedGeoJSON(in: stored), let objects = stored.firstIndex(where: { $0.kind == "objects" }) else { return stored }
        var out = stored
        out.insert(geoJSON, at: objects)
        return out
    }

    /// What a result lists about its artefacts: kind, media type, size (null for one made on
    /// request) and where to get it.
    static func artefactList(_ result: ResultRecord) -> [[String: Any]] {
        listed((try? ResultArtefact.list(fromJSON: result.artefacts)) ?? []).map {
            ["kind": $0.kind, "media_type": $0.mediaType, "byte_size": $0.byteSize >= 0 ? $0.byteSize : NSNull(),
             "href": "/api/v1/results/\(result.id!.api)/artefacts/\($0.kind)"]
        }
    }

    @Sendable func forImage(_ req: Request) async throws -> Response {
        let image = try await context.access.image(req, .read, action: "result.read")
        let id = try image.requireID()
        let jobs = try await Job.query(on: req.db).filter(\.$imageID == id).sort(\.$extractorID).all()
        let results = try await ResultRecord.query(on: req.db).filter(\.$imageID == id).all()
        try await context.audit.record(req, "result.read", "image", id)
        return try JSONResponse.make(Self.merge(jobs: jobs, results: results, imageID: id))
    }

    @Sendable func forStudy(_ req: Request) async throws -> Response {
        let study = try await context.access.study(req, .read, action: "result.export")
        let id = try study.requireID()
        let format: String = req.query["format"] ?? "json"
        guard format == "json" || format == "csv" else { throw APIError.unprocessable("'format' must be json or csv.") }
        let images = try await ImageRecord.query(on: req.db).filter(\.$studyID == id).sort(\.$createdAt).sort(\.$id).all()
        let jobs = try await Job.query(on: req.db).filter(\.$studyID == id).all()
        let results = try await ResultRecord.query(on: req.db).filter(\.$studyID == id).all()
        try await context.audit.record(req, "result.export", "study", id)
        if format == "json" {
            var items: [Any] = []
            for image in images {
                let imageID = try image.requireID()
                items += Self.merge(jobs: jobs.filter { $0.imageID == imageID }, results: results.filter { $0.imageID == imageID }, imageID: imageID)
            }
            return try JSONResponse.make(items)
        }
        return Self.csv(images: images, results: results)
    }

    /// One entry per expected (extractor, version, parameters) of the image — from its jobs — with
    /// the stored features when the result exists; results without a job (backfills, external
    /// workers) are listed too.
    static func merge(jobs: [Job], results: [ResultRecord], imageID: UUID) -> [[String: Any]] {
        func key(_ e: String, _ v: String, _ h: String) -> String { "\(e)\u{1}\(v)\u{1}\(h)" }
        var byKey = Dictionary(results.map { (key($0.extractorID, $0.extractorVersion, $0.parameterHash), $0) }, uniquingKeysWith: { a, _ in a })
        var out: [[String: Any]] = []
        for job in jobs {
            let k = key(job.extractorID, job.extractorVersion, job.parameterHash)
            let result = byKey.removeValue(forKey: k)
            out.append([
                "id": orNull(result?.id?.api), "job_id": orNull(job.id?.api), "image_id": imageID.api, "extractor": job.extractorID, "version": job.extractorVersion,
                "parameters": JSONResponse.embedded(job.parameters), "parameter_hash": job.parameterHash,
                "status": result != nil ? "succeeded" : job.state, "attempts": job.attempts,
                "error": orNull(job.jobState == .dead || job.jobState == .failed ? job.lastError : nil),
                "features": result.map { JSONResponse.embedded($0.features) } ?? NSNull(),
                "artefacts": result.map(artefactList) ?? [],
                "finished_at": orNull(result?.createdAt.api ?? job.finishedAt?.api),
            ])
        }
        for result in byKey.values.sorted(by: { $0.extractorID < $1.extractorID }) {
            out.append([
                "id": result.id!.api, "job_id": orNull(result.jobID?.api), "image_id": imageID.api, "extractor": result.extractorID, "version": result.extractorVersion,
                "parameters": JSONResponse.embedded(result.parameters), "parameter_hash": result.parameterHash,
                "status": "succeeded", "attempts": NSNull(), "error": NSNull(),
                "features": JSONResponse.embedded(result.features), "artefacts": artefactList(result), "finished_at": result.createdAt.api,
            ])
        }
        return out
    }

    /// `image_id, sha256, original_name, <extractor>.<feature>…`: columns in first-seen order.
    static func csv(images: [ImageRecord], results: [ResultRecord]) -> Response {
        var columns: [String] = []
        var seen = Set<String>()
        var rows: [UUID: [String: String]] = [:]
        for result in results.sorted(by: { ($0.extractorID, $0.createdAt) < ($1.extractorID, $1.createdAt) }) {
            guard let data = result.features.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
            for name in object.keys.sorted() {
                let column = "\(result.extractorID).\(name)"
                if seen.insert(column).inserted { columns.append(column) }
                let value = object[name]
                rows[result.imageID, default: [:]][column] = switch value {
                case let n as NSNumber: JSONText.number(n.doubleValue)
                case let s as String: s
                default: ""
                }
            }
        }
        var text = (["image_id", "sha256", "original_name"] + columns).map(csvField).joined(separator: ",") + "\n"
        for image in images {
            let values = rows[image.id!] ?? [:]
            let fields = [image.id!.api, image.sha256, image.originalName ?? ""] + columns.map { values[$0] ?? "" }
            text += fields.map(csvField).joined(separator: ",") + "\n"
        }
        var headers = HTTPHeaders()
        headers.add(name: .contentType, value: "text/csv; charset=utf-8")
        headers.add(name: .contentDisposition, value: "attachment; filename=\"results.csv\"")
        return Response(status: .ok, headers: headers, body: .init(string: text))
    }
}
