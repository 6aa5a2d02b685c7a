import Fluent
import KaryonStore
import Vapor

/// Patients: protected health information, scoped to projects, every access audited.
struct PatientController: Sendable {
    let context: AppContext

    static let sexes = ["female", "male", "other", "unknown"]

    struct CreateBody: RequestBody {
        enum CodingKeys: String, CodingKey, CaseIterable {
            case project_id, surname, name, address, birth_date, sex, external_id, notes
        }
        let project_id: UUID
        let surname: String
        let name: String
        let address: String?
        let birth_date: String?
        let sex: String?
        let external_id: String?
        let notes: String?
    }

    /// Fields a PATCH may change; `null` clears an optional one.
    static let editable = ["surname", "name", "address", "birth_date", "sex", "external_id", "notes"]

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .POST, path: "/api/v1/patients", summary: "Create a patient in a project", tag: "patients",
                                   requestBody: .ref("PatientRequest"), status: 201, response: .ref("Patient"), errors: [403, 404, 422]),
                         on: routes, use: create)
        catalog.register(Operation(method: .GET, path: "/api/v1/patients", summary: "Patients in your projects", tag: "patients",
                                   query: pageQuery + [("project_id", .uuid, "Only this project's patients."),
                                                       ("external_id", .text, "Only patients with this external id.")],
                                   response: .ref("PatientPage")), on: routes, use: list)
        catalog.register(Operation(method: .GET, path: "/api/v1/patients/{id}", summary: "One patient", tag: "patients",
                                   response: .ref("Patient"), errors: [404]), on: routes, use: show)
        catalog.register(Operation(method: .PATCH, path: "/api/v1/patients/{id}", summary: "Change a patient's fields (null clears)",
                                   tag: "patients", requestBody: .ref("PatientPatch"), response: .ref("Patient"), errors: [403, 404, 422]),
                         on: routes, use: update)
        catalog.register(Operation(method: .DELETE, path: "/api/v1/patients/{id}",
                                   summary: "Delete a patient with its studies, images (crypto-shredded) and results; owners only",
                                   tag: "patients", status: 204, errors: [403, 404]), on: routes, use: delete)
    }

    @Sendable func create(_ req: Request) async throws -> Response {
        let body = try JSONBody.decode(CreateBody.self, from: req)
        try await context.access.require(.write, req, project: body.project_id, action: "patient.create", resource: "project", id: body.project_id)
        let patient = Patient(projectID: body.project_id, surname: try Check.text(body.surname, "surname"), name: try Check.text(body.name, "name"))
        patient.address = try Check.optionalText(body.address, "address", max: 500)
        patient.birthDate = try Check.date(body.birth_date, "birth_date")
        patient.sex = try Check.oneOf(body.sex, "sex", Self.sexes)
        patient.externalID = try Check.optionalText(body.external_id, "external_id", max: 100)
        patient.notes = try Check.optionalText(body.notes, "notes", max: 10_000)
        try await req.db.transaction { db in
            try await patient.create(on: db)
            try await context.audit.record(req, "patient.create", "patient", patient.id, on: db)
        }
        return try JSONResponse.make(Representation.patient(patient), status: .created)
    }

    @Sendable func list(_ req: Request) async throws -> Response {
        let page = try Page(req, maxLimit: context.configuration.maxPageSize)
        let projects = try await context.access.projectIDs(req, filteredBy: "project_id")
        let query = Patient.query(on: req.db).filter(\.$projectID ~~ projects)
        if let external: String = req.query["external_id"] { query.filter(\.$externalID == external) }
        let total = try await query.count()
        let rows = try await query.sort(\.$surname).sort(\.$name).range(page.offset..<(page.offset + page.limit)).all()
        try await context.audit.record(req, "patient.list", "patient", nil)
        return try JSONResponse.page(rows.map(Representation.patient), total: total, page: page)
    }

    @Sendable func show(_ req: Request) async throws -> Response {
        let patient = try await context.access.patient(req, .read, action: "patient.read")
        try await context.audit.record(req, "patient.read", "patient", patient.id)
        return try JSONResponse.make(Representation.patient(patient))
    }

    @Sendable func update(_ req: Request) async throws -> Response {
        let patient = try await context.access.patient(req, .write, action: "patient.update")
        let (_, object) = try JSONBody.object(req)
        if let unknown = object.keys.sorted().first(where: { !Self.editable.contains($0) }) {
            throw APIError.badRequest("Field '\(unknown)' cannot be changed; editable fields are \(Self.editable.joined(separator: ", ")).", code: "unknown_field")
        }
        for (key, value) in object {
            let text: String?
            if value is NSNull { text = nil } else if let s = value as? String { text = s } else {
                throw APIError.badRequest("Field '\(key)' must be a string or null.", code: "invalid_field")
            }
            switch key {
            case "surname":
                guard let text else { throw APIError.unprocessable("Field 'surname' cannot be null.") }
                patient.surname = try Check.text(text, key)
            case "name":
                guard let text else { throw APIError.unprocessable("Field 'name' cannot be null.") }
                patient.name = try Check.text(text, key)
            case "address": patient.address = try Check.optionalText(text, key, max: 500)
            case "birth_date": patient.birthDate = try Check.date(text, key)
            case "sex": patient.sex = try Check.oneOf(text, key, Self.sexes)
            case "external_id": patient.externalID = try Check.optionalText(text, key, max: 100)
            case "notes": patient.notes = try Check.optionalText(text, key, max: 10_000)
            default: break
            }
        }
        patient.updatedAt = Date()
        try await req.db.transaction { db in
            try await patient.save(on: db)
            try await context.audit.record(req, "patient.update", "patient", patient.id, on: db)
        }
        return try JSONResponse.make(Representation.patient(patient))
    }

    @Sendable func delete(_ req: Request) async throws -> Response {
        let patient = try await context.access.patient(req, .manage, action: "patient.delete")
        let patientID = try patient.requireID()
        let studies = try await Study.query(on: req.db).filter(\.$patientID == patientID).all().map { try $0.requireID() }
        let blobs = try await BlobSweeper.blobs(ofStudies: studies, on: req.db)
        try await req.db.transaction { db in
            try await patient.delete(on: db)
            try await context.audit.record(req, "patient.delete", "patient", patientID, on: db)
        }
        // After the commit: crypto-shred the images and artefacts (their rows are gone already).
        try await BlobSweeper.delete(blobs, from: context.blobs, pool: req.application.threadPool, logger: req.logger)
        return Response(status: .noContent)
    }
}
