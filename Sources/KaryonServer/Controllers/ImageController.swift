import Fluent
import KaryonAnalysis
import KaryonImaging
import KaryonPipeline
import KaryonStore
import Vapor

/// Images: upload (multipart received within the upload limit and parsed whole, probed,
/// encrypted, committed with their jobs in one transaction), metadata, decrypted download,
/// thumbnails, per-image results.
struct ImageController: Sendable {
    let context: AppContext

    func register(_ routes: any RoutesBuilder) {
        let catalog = context.catalog
        catalog.register(Operation(method: .POST, path: "/api/v1/studies/{id}/images",
                                   summary: "Upload images (multipart, field 'file', repeatable); 201 means they and their analysis jobs are durable",
                                   tag: "images", query: [], requestBody: .ref("UploadRequest"), requestMediaType: "multipart/form-data",
                                   status: 201, response: .ref("UploadResponse"), errors: [403, 404, 409, 422, 429, 503]),
                         on: routes, body: .stream, use: upload)
        catalog.register(Operation(method: .GET, path: "/api/v1/studies/{id}/images", summary: "Images of a study", tag: "images",
                                   query: pageQuery, response: .ref("ImagePage"), errors: [404]), on: routes, use: list)
        catalog.register(Operation(method: .GET, path: "/api/v1/images/{id}", summary: "Image metadata", tag: "images",
                                   response: .ref("Image"), errors: [404]), on: routes, use: show)
        catalog.register(Operation(method: .GET, path: "/api/v1/images/{id}/file", summary: "The uploaded file, decrypted and verified",
                                   tag: "images", response: .binary, responseMediaType: "application/octet-stream", errors: [404, 500]),
                         on: routes, use: download)
        catalog.register(Operation(method: .GET, path: "/api/v1/images/{id}/thumbnail", summary: "An 8-bit PNG preview", tag: "images",
                                   query: [("size", .integer(minimum: 16, maximum: 1024), "Longer side in pixels (default 256).")],
                                   response: .binary, responseMediaType: "image/png", errors: [404, 422]), on: routes, use: thumbnail)
        catalog.register(Operation(method: .DELETE, path: "/api/v1/images/{id}", summary: "Delete an image, its jobs and results; owners only",
                                   tag: "images", status: 204, errors: [403, 404]), on: routes, use: delete)
    }

    // MARK: Upload

    /// One file of a multipart upload, checked and ready to store.
    struct Upload {
        var name: String?
        var bytes: Data
        var sha256: String
        var header: ImageHeader
    }

    @Sendable func upload(_ req: Request) async throws -> Response {
        let study = try await context.access.study(req, .write, action: "image.upload")
        guard let type = req.headers.contentType, type.type == "multipart", type.subType == "form-data",
              let boundary = type.parameters["boundary"], !boundary.isEmpty else {
            throw APIError.unsupportedMediaType("multipart/form-data with one or more 'file' fields")
        }
        let key = try idempotencyKey(req)
        let me = try req.principal
        switch await context.uploads.enter(me.userID, db: req.db) {
        case nil:
            break
        case .userBusy(let limit)?:
            throw APIError.tooManyRequests("You already have \(limit) uploads running; wait for one to finish.", retryAfter: 5)
        case .serverBusy?:
            throw APIError.unavailable("The server is receiving as many uploads as it takes at once; try again shortly.", retryAfter: 5)
        case .backlog(let n)?:
            throw APIError.unavailable("The analysis queue is full (\(n) jobs waiting); uploads resume when the workers catch up.", retryAfter: 30)
        }
        do {
            let response = try await receive(req, study: study, boundary: boundary, key: key, user: me.userID)
            await context.uploads.leave(me.userID)
            return response
        } catch {
            await context.uploads.leave(me.userID)
            throw error
        }
    }

    private func idempotencyKey(_ req: Request) throws -> String? {
        guard let key = req.headers.first(name: "Idempotency-Key") else { return nil }
        guard (1...200).contains(key.utf8.count), key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value < 0x7F }) else {
            throw APIError.badRequest("Idempotency-Key must be 1 to 200 printable ASCII characters.")
        }
        return key
    }

    private func receive(_ req: Request, study: Study, boundary: String, key: String?, user: UUID) async throws -> Response {
        let limit = context.configuration.uploadLimitBytes
        // The whole body, within the limit (sized by Content-Length when given), then its parts.
        var body = ByteBuffer()
        if let length = req.headers.first(name: .contentLength).flatMap(Int.init), length > 0 {
            guard length <= limit else { throw APIError.payloadTooLarge(limit) }
            body.reserveCapacity(length)
        }
        for try await var chunk in req.body {
            guard body.readableBytes + chunk.readableBytes <= limit else { throw APIError.payloadTooLarge(limit) }
            body.writeBuffer(&chunk)
        }
        // Splitting the parts, hashing and the header probe are CPU work on whole files: the
        // blocking pool, not the event loop that serves other requests.
        let pixelLimit = context.configuration.pixelLimit
        let received = body
        let uploads: [Upload] = try await req.application.threadPool.runIfActive {
            let parts: [MultipartBody.Part]
            do {
                parts = try Self.files(MultipartBody.parse(received, boundary: boundary, maxParts: 1000))
            } catch let error as MultipartBody.Malformed {
                throw APIError.badRequest("The multipart body is malformed: \(error.reason).", code: "malformed_multipart")
            }
            return try parts.map { part in
                let name = part.filename ?? "file"
                let digest = sha256Hex(part.bytes)
                let header: ImageHeader
                do {
                    header = try ImageCodec.probe(data: part.bytes, name: name)
                } catch let error as ImageIOError {
                    throw APIError.unprocessable("\(name): \(error.description)", code: error.code == .tooLarge ? "image_too_large" : "invalid_image")
                }
                guard header.pixelCount <= pixelLimit else {
                    throw APIError.unprocessable("\(name) has \(header.pixelCount) pixels; the limit is \(pixelLimit).", code: "image_too_large")
                }
                return Upload(name: part.filename, bytes: part.bytes, sha256: digest, header: header)
            }
        }
        // The request's identity is its files (name and content), not its bytes: a retry carries
        // a new multipart boundary.
        var identity = "POST \(req.url.path)\n"
        for upload in uploads { identity += "\(upload.name ?? "")\u{0}\(upload.sha256)\n" }
        let requestHash = sha256Hex(Array(identity.utf8))
        if let key, let replay = try await replay(req, key: key, user: user, requestHash: requestHash) { return replay }
        return try await store(req, uploads, study: study, key: key, user: user, requestHash: requestHash)
    }

    /// The stored answer for a repeated `Idempotency-Key`, nil for a new key.
    private func replay(_ req: Request, key: String, user: UUID, requestHash: String) async throws -> Response? {
        guard let record = try await IdempotencyRecord.query(on: req.db).filter(\.$userID == user).filter(\.$key == key).first() else {
            return nil
        }
        guard record.requestHash == requestHash else {
            throw APIError.unprocessable("This Idempotency-Key was used for a different request; use a new key.", code: "idempotency_key_reused")
        }
        var headers = HTTPHeaders()
        headers.add(name: .contentType, value: "application/json; charset=utf-8")
        headers.add(name: "Idempotent-Replayed", value: "true")
        return Response(status: HTTPResponseStatus(statusCode: record.status), headers: headers, body: .init(string: record.response))
    }

    /// Stores the files that are new to the study and answers for all of them.
    /// - Parameter retried: whether this is the second attempt after losing a race (below).
    private func store(_ req: Request, _ uploads: [Upload], study: Study, key: String?, user: UUID, requestHash: String,
                       retried: Bool = false) async throws -> Response {
        let studyID = try study.requireID()
        let known = try await ImageRecord.allDirectly(
            where: "r.study_id = \(bind: studyID) AND r.sha256 IN (\(binds: uploads.map(\.sha256)))", on: req.db)
        var bySHA = Dictionary(known.map { ($0.sha256, $0) }, uniquingKeysWith: { a, _ in a })

        var items: [[String: Any]] = []
        var fresh: [(ImageRecord, Data)] = []
        for upload in uploads {
            if let existing = bySHA[upload.sha256] {
                var item = Representation.image(existing)
                item["duplicate"] = true
                items.append(item)
                continue
            }
            let pixelSize = study.pixelSize ?? upload.header.pixelSizeMicrons.flatMap { $0 > 0 && $0 <= 100 ? $0 : nil }
            let record = ImageRecord(
                studyID: studyID, projectID: study.projectID, blobID: UUID(), sha256: upload.sha256, byteSize: upload.bytes.count,
                width: upload.header.width, height: upload.header.height, channels: upload.header.channels,
                bitDepth: upload.header.bitDepth, format: upload.header.format.rawValue, pixelSize: pixelSize,
                originalName: upload.name.map { String($0.prefix(255)) }, createdBy: user)
            bySHA[upload.sha256] = record
            fresh.append((record, upload.bytes))
            var item = Representation.image(record)
            item["duplicate"] = false
            items.append(item)
        }
        let status: HTTPResponseStatus = fresh.isEmpty ? .ok : .created
        let body = try JSONWriter.data(["images": items])
        let bodyText = String(decoding: body, as: UTF8.self)

        // Blobs first (encrypted, fsynced), then one transaction for rows, jobs and the idempotency
        // record. A crash in between leaves only orphaned blobs, collected at start-up.
        let blobs = context.blobs
        let toWrite = fresh.map { ($0.0.blobID, $0.1) }
        let records = fresh.map(\.0)
        let rows = UploadRows(studyID: studyID, records: records, audit: context.audit.events(req, "image.upload", "image", records.map(\.id)),
                              idempotency: key.map { IdempotencyRecord(userID: user, key: $0, requestHash: requestHash, status: Int(status.code),
                                                                         response: bodyText) })
        let queued: [String]
        do {
            if rows.isEmpty {
                queued = []  // every file a duplicate, no key to remember: nothing to write
            } else if let direct = context.directSQLite {
                // The embedded database: blobs and transaction on a thread of their own, not the
                // blocking pool that the driver's statements need (waiting there for the write
                // lock could hold the threads the lock's holder needs to commit).
                let logger = req.logger
                queued = try await JobRunner.offload {
                    try Self.write(toWrite, to: blobs)
                    do {
                        return try direct.withConnection { connection in try connection.transaction { try rows.store(on: $0) } }
                    } catch {
                        BlobSweeper.deleteNow(toWrite.map(\.0), from: blobs, logger: logger)
                        throw error
                    }
                }
            } else {
                try await req.application.threadPool.runIfActive { try Self.write(toWrite, to: blobs) }
                do {
                    queued = try await req.db.transaction { try await rows.store(on: $0) }
                } catch {
                    try? await BlobSweeper.delete(toWrite.map(\.0), from: blobs, pool: req.application.threadPool, logger: req.logger)
                    throw error
                }
            }
        } catch {
            if let dbError = error as? any DatabaseError, dbError.isConstraintFailure {
                if let key, let replay = try await replay(req, key: key, user: user, requestHash: requestHash) { return replay }
                // Another request stored one of these files between our check and our commit (its
                // blob is gone again): once more, and that file is now a duplicate like any other.
                if !retried {
                    return try await store(req, uploads, study: study, key: key, user: user, requestHash: requestHash, retried: true)
                }
                throw APIError.conflict("The same image was uploaded to this study at the same moment; retry to get its id.")
            }
            throw error
        }
        await context.jobSignal.notify(queued)
        var headers = HTTPHeaders()
        headers.add(name: .contentType, value: "application/json; charset=utf-8")
        return Response(status: status, headers: headers, body: .init(buffer: ByteBuffer(bytes: body)))
    }

    /// Writes the blobs (encrypted, fsynced); on a failure deletes those already written.
    private static func write(_ blobs: [(UUID, Data)], to store: any BlobStore) throws {
        var done: [UUID] = []
        do {
            for (id, bytes) in blobs {
                try store.put(bytes, id: id)
                done.append(id)
            }
        } catch {
            BlobSweeper.deleteNow(done, from: store, logger: nil)
            throw error
        }
    }

    // MARK: Reading

    @Sendable func list(_ req: Request) async throws -> Response {
        let study = try await context.access.study(req, .read, action: "image.list")
        let page = try Page(req, maxLimit: context.configuration.maxPageSize)
        let query = ImageRecord.query(on: req.db).filter(\.$studyID == (try study.requireID()))
        let total = try await query.count()
        let rows = try await query.sort(\.$createdAt).sort(\.$id).range(page.offset..<(page.offset + page.limit)).all()
        try await context.audit.record(req, "image.list", "study", study.id)
        return try JSONResponse.page(rows.map(Representation.image), total: total, page: page)
    }

    @Sendable func show(_ req: Request) async throws -> Response {
        let image = try await context.access.image(req, .read, action: "image.read")
        try await context.audit.record(req, "image.read", "image", image.id)
        return try JSONResponse.make(Representation.image(image))
    }

    @Sendable func download(_ req: Request) async throws -> Response {
        let image = try await context.access.image(req, .read, action: "image.download")
        let data = try await context.imageBytes(req, image, action: "image.download")
        try await context.audit.record(req, "image.download", "image", image.id)
        var headers = HTTPHeaders()
        headers.add(name: .contentType, value: Self.mediaType(image.format))
        headers.add(name: .contentDisposition, value: "attachment; filename=\"\(image.id!.api).\(image.format == "jpeg" ? "jpg" : image.format)\"")
        headers.add(name: .cacheControl, value: "private, no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }

    @Sendable func thumbnail(_ req: Request) async throws -> Response {
        let image = try await context.access.image(req, .read, action: "image.thumbnail")
        let sizeText: String? = req.query["size"]
        guard let size = sizeText.map({ Int($0) }) ?? 256, (16...1024).contains(size) else {
            throw APIError.unprocessable("'size' must be an integer from 16 to 1024.")
        }
        let data = try await context.imageBytes(req, image, action: "image.thumbnail")
        let png: [UInt8] = try await req.application.threadPool.runIfActive {
            let decoded = try ImageCodec.decode(data: data, name: "image")
            return try ImageCodec.encode(.uint8(try decoded.thumbnail(maxSide: size)), as: .png())
        }
        try await context.audit.record(req, "image.thumbnail", "image", image.id)
        var headers = HTTPHeaders()
        headers.add(name: .contentType, value: "image/png")
        headers.add(name: .cacheControl, value: "private, max-age=300")
        return Response(status: .ok, headers: headers, body: .init(data: Data(png)))
    }

    @Sendable func delete(_ req: Request) async throws -> Response {
        let image = try await context.access.image(req, .manage, action: "image.delete")
        let id = try image.requireID()
        var blobs = [image.blobID]
        for result in try await ResultRecord.query(on: req.db).filter(\.$imageID == id).all() {
            blobs += BlobSweeper.artefactBlobIDs(result.artefacts)
        }
        let openJobs = try await req.db.transaction { db in
            let open = try await Job.query(on: db).filter(\.$imageID == id)
                .filter(\.$state ~~ [Job.State.queued, .running, .failed].map(\.rawValue)).count()
            try await image.delete(on: db)
            try await context.audit.record(req, "image.delete", "image", id, on: db)
            return open
        }
        try await BlobSweeper.delete(blobs, from: context.blobs, pool: req.application.threadPool, logger: req.logger)
        // Its open jobs went with it; they may have been the study's last.
        if openJobs > 0 { try? await StudyNotifier(database: req.db).studyMayHaveFinished(image.studyID) }
        return Response(status: .noContent)
    }

    static func mediaType(_ format: String) -> String {
        switch format {
        case "png": "image/png"
        case "jpeg": "image/jpeg"
        case "tiff": "image/tiff"
        default: "application/octet-stream"
        }
    }
}

extension ImageController {
    /// The `file` parts of an upload; any other field or an empty file is an error.
    static func files(_ parts: [MultipartBody.Part]) throws -> [MultipartBody.Part] {
        guard !parts.isEmpty else { throw APIError.badRequest("The upload has no 'file' parts.", code: "no_files") }
        for part in parts {
            guard part.name == "file" else {
                throw APIError.badRequest("Unknown multipart field '\(part.name ?? "")'; send each image as a 'file' field.", code: "unknown_field")
            }
            guard !part.bytes.isEmpty else {
                throw APIError.unprocessable("\(part.filename ?? "a file") is empty.", code: "invalid_image")
            }
        }
        return parts
    }
}
