import Fluent
import KaryonAnalysis
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
                "image_id": imageID.api, "extractor": job.extractorID, "version": job.extractorVersion,
                "parameters": JSONResponse.embedded(job.parameters), "parameter_hash": job.parameterHash,
                "status": result != nil ? "succeeded" : job.state, "attempts": job.attempts,
                "error": orNull(job.jobState == .dead || job.jobState == .failed ? job.lastError : nil),
                "features": result.map { JSONResponse.embedded($0.features) } ?? NSNull(),
                "finished_at": orNull(result?.createdAt.api ?? job.finishedAt?.api),
            ])
        }
        for result in byKey.values.sorted(by: { $0.extractorID < $1.extractorID }) {
            out.append([
                "image_id": imageID.api, "extractor": result.extractorID, "version": result.extractorVersion,
                "parameters": JSONResponse.embedded(result.parameters), "parameter_hash": result.parameterHash,
                "status": "succeeded", "attempts": NSNull(), "error": NSNull(),
                "features": JSONResponse.embedded(result.features), "finished_at": result.createdAt.api,
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
