import Fluent
import KaryonAnalysis
import KaryonStore
import Vapor

/// Studies of a patient, with the extractors that analyse their images, and status/progress
/// computed from the jobs.
struct StudyController: Sendable {
    let context: AppContext

    struct ExtractorChoice: Decodable, Sendable {
        let id: String
        let parameters: [String: ParameterValue]?

        enum CodingKeys: String, CodingKey { case id, parameters }

        init(from decoder: any Decoder) throws {
            let given = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
            if let unknown = given.filter({ $0 != "id" && $0 != "parameters" }).sorted().first {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown field '\(unknown)' (an extractor is {id, parameters})"))
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            parameters = try c.decodeIfPresent([String: ParameterValue].self, forKey: .parameters)
        }
    }

    struct CreateBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable {
            case patient_id, title, kind, stain, marker, pixel_size, extractors
        }
        let patient_id: UUID
        let title: String
        let kind: String
        let stain: String?
        let marker: String?
        let pixel_size: Double?
        let extractors: [ExtractorChoice]?

        func validate() throws {
            _ = try Check.text(title, "title")
            guard Study.Kind(rawValue: kind.lowercased()) != nil else {
                throw APIError.unprocessable("Field 'kind' must be one of cytology, histology, ihc.")
            }
            if let p = pixel_size, !(p > 0 && p < 1000 && p.isFinite) {
                throw APIError.unprocessable("Field 'pixel_size' must be micrometres per pixel, above 0 and below 1000.")
            }
            if let e = extractors, e.count > 32 { throw APIError.unprocessable("A study takes at most 32 extractors.") }
        }
    }

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .POST, path: "/api/v1/studies", summary: "Create a study of a patient, with its extractors",
                                   tag: "studies", requestBody: .ref("StudyRequest"), status: 201, response: .ref("Study"),
                                   errors: [403, 404, 422]), on: routes, use: create)
        catalog.register(Operation(method: .GET, path: "/api/v1/studies", summary: "Studies in your projects", tag: "studies",
                                   query: pageQuery + [("patient_id", .uuid, "Only this patient's studies."),
                                                       ("project_id", .uuid, "Only this project's studies."),
                                                       ("status", .string(enumeration: ["empty", "queued", "running", "success", "partial", "failed"]),
                                                        "Only studies in this status (applied to the page).")],
                                   response: .ref("StudyPage")), on: routes, use: list)
        catalog.register(Operation(method: .GET, path: "/api/v1/studies/{id}", summary: "One study with status and progress", tag: "studies",
                                   response: .ref("Study"), errors: [404]), on: routes, use: show)
        catalog.register(Operation(method: .DELETE, path: "/api/v1/studies/{id}",
                                   summary: "Delete a study with its images (crypto-shredded) and results; owners only", tag: "studies",
                                   status: 204, errors: [403, 404]), on: routes, use: delete)
    }

    @Sendable func create(_ req: Request) async throws -> Response {
        let body = try JSONBody.decode(CreateBody.self, from: req)
        guard let patient = try await Patient.find(body.patient_id, on: req.db) else {
            await context.audit.denied(req, "study.create", "patient", body.patient_id.uuidString)
            throw APIError.notFound("patient")
        }
        try await context.access.require(.write, req, project: patient.projectID, action: "study.create", resource: "patient", id: body.patient_id)
        let study = Study(projectID: patient.projectID, patientID: body.patient_id, title: try Check.text(body.title, "title"),
                          kind: Study.Kind(rawValue: body.kind.lowercased())!, createdBy: try req.principal.userID)
        study.stain = try Check.optionalText(body.stain, "stain", max: 100)
        study.marker = try Check.optionalText(body.marker, "marker", max: 100)
        study.pixelSize = body.pixel_size
        var chosen: [Subscriptions.Resolved] = []
        for choice in body.extractors ?? [] {
            let resolved = try await context.subscriptions.resolve(choice.id, parameters: choice.parameters ?? [:],
                                                                   project: patient.projectID, on: req.db)
            guard !chosen.contains(where: { $0.extractorID == resolved.extractorID && $0.parameters == resolved.parameters }) else {
                throw APIError.unprocessable("Extractor '\(resolved.extractorID)' is listed twice with the same parameters.")
            }
            chosen.append(resolved)
        }
        let (subscriptions, choices, studyID) = (context.subscriptions, chosen, try study.requireID())
        let stored = try await req.db.transaction { db in
            try await study.create(on: db)
            var stored: [StudyExtractor] = []
            for resolved in choices {
                stored.append(try await subscriptions.subscribe(resolved, study: studyID, backfill: false, on: db).subscription)
            }
            try await context.audit.record(req, "study.create", "study", studyID, on: db)
            return stored
        }
        return try JSONResponse.make(Representation.study(study, extractors: stored, progress: StudyProgress()), status: .created)
    }

    @Sendable func list(_ req: Request) async throws -> Response {
        let page = try Page(req, maxLimit: context.configuration.maxPageSize)
        let projects = try await context.access.projectIDs(req, filteredBy: "project_id")
        let query = Study.query(on: req.db).filter(\.$projectID ~~ projects)
        if let raw: String = req.query["patient_id"] {
            guard let id = UUID(uuidString: raw) else { throw APIError.badRequest("'patient_id' must be a UUID.") }
            query.filter(\.$patientID == id)
        }
        let status: String? = req.query["status"]
        let total = try await query.count()
        let rows = try await query.sort(\.$createdAt, .descending).range(page.offset..<(page.offset + page.limit)).all()
        var items: [Any] = []
        for study in rows {
            let progress = try await StudyProgress.of(study: try study.requireID(), on: req.db)
            if let status, progress.status != status { continue }
            let subs = try await StudyExtractor.query(on: req.db).filter(\.$studyID == study.requireID()).all()
            items.append(Representation.study(study, extractors: subs, progress: progress))
        }
        try await context.audit.record(req, "study.list", "study", nil)
        return try JSONResponse.page(items, total: total, page: page)
    }

    @Sendable func show(_ req: Request) async throws -> Response {
        let study = try await context.access.study(req, .read, action: "study.read")
        let id = try study.requireID()
        let subs = try await StudyExtractor.query(on: req.db).filter(\.$studyID == id).all()
        let progress = try await StudyProgress.of(study: id, on: req.db)
        try await context.audit.record(req, "study.read", "study", id)
        return try JSONResponse.make(Representation.study(study, extractors: subs, progress: progress))
    }

    @Sendable func delete(_ req: Request) async throws -> Response {
        let study = try await context.access.study(req, .manage, action: "study.delete")
        let id = try study.requireID()
        let blobs = try await BlobSweeper.blobs(ofStudies: [id], on: req.db)
        try await req.db.transaction { db in
            try await study.delete(on: db)
            try await context.audit.record(req, "study.delete", "study", id, on: db)
        }
        try await BlobSweeper.delete(blobs, from: context.blobs, pool: req.application.threadPool, logger: req.logger)
        return Response(status: .noContent)
    }
}

/// A coding key for any string, to list the keys an object actually has.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
