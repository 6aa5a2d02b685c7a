import FluentKit
import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonStore

/// Runs one claimed job: reads the image from the blob store, decodes it as untrusted input,
/// configures the extractor from the job's stored parameters and runs it.
public struct JobRunner: Sendable {
    public let database: any Database
    public let blobs: any BlobStore
    public let registry: ExtractorRegistry
    public let decodeOptions: DecodeOptions

    public init(database: any Database, blobs: any BlobStore, registry: ExtractorRegistry, decodeOptions: DecodeOptions = .init()) {
        self.database = database
        self.blobs = blobs
        self.registry = registry
        self.decodeOptions = decodeOptions
    }

    /// Why an attempt failed, and whether trying again could help.
    public struct Failure: Error, Sendable {
        public let message: String
        /// False for errors that will repeat (bad parameters, an image the decoder refuses).
        public let retryable: Bool
    }

    /// The features (as a JSON object), the input digest and, for extractors that detect objects,
    /// the artefacts, already stored in one encrypted blob (``ResultArtefact``). When the result
    /// is not stored after all (fenced, duplicate), give the output to ``discard(_:)``.
    public func run(_ job: ClaimedJob) async throws -> JobQueue.Output {
        guard let image = try await ImageRecord.findDirectly(job.imageID, on: database) else { throw Self.deleted }
        let configured = try configure(job)
        let bytes = try read(image)
        let (options, blobs) = (decodeOptions, self.blobs)
        return try await Self.offload {
            try Self.produce(job, image: image, bytes: bytes, configured: configured, options: options, blobs: blobs)
        }
    }

    /// ``run(_:)`` from the caller's thread, the image record read on a direct connection to the
    /// embedded database: for a worker slot that completes the job on the same connection next.
    public func run(_ job: ClaimedJob, on connection: DirectSQLite) throws -> JobQueue.Output {
        guard let image = try ImageRecord.findDirectly(job.imageID, on: connection) else { throw Self.deleted }
        let configured = try configure(job)
        return try Self.produce(job, image: image, bytes: try read(image), configured: configured, options: decodeOptions, blobs: blobs)
    }

    private static let deleted = Failure(message: "the image was deleted", retryable: false)

    /// The extractor as the job's stored parameters configure it, at the job's version.
    private func configure(_ job: ClaimedJob) throws -> ConfiguredExtractor {
        let configured: ConfiguredExtractor
        do {
            let values = try JSONDecoder().decode([String: ParameterValue].self, from: Data(job.parameters.utf8))
            configured = try registry.configure(job.extractorID, values: values)
        } catch let error as ExtractorError {
            throw Failure(message: error.message, retryable: false)
        } catch {
            throw Failure(message: "stored parameters are unreadable: \(error)", retryable: false)
        }
        guard configured.descriptor.version == job.extractorVersion else {
            throw Failure(message: "\(job.extractorID) is now version \(configured.descriptor.version); the job asks for \(job.extractorVersion)",
                          retryable: false)
        }
        return configured
    }

    /// The image's decrypted bytes.
    private func read(_ image: ImageRecord) throws -> Data {
        do {
            return try blobs.get(image.blobID)
        } catch let error as StoreError {
            throw Failure(message: "the stored image could not be read (\(error.code.rawValue))", retryable: error.code == .io)
        }
    }

    /// Extraction and the artefacts' blob: the CPU-heavy part of a job.
    private static func produce(_ job: ClaimedJob, image: ImageRecord, bytes: Data, configured: ConfiguredExtractor,
                                options: DecodeOptions, blobs: any BlobStore) throws -> JobQueue.Output {
        var output = try extract(bytes, with: configured, pixelSizeMicrons: image.pixelSize, sha256: image.sha256, options: options,
                                 name: "image \(job.imageID)")
        try store(&output, in: blobs)
        return output
    }

    /// Writes the output's artefact files as one blob and lists them in `output.artefacts`.
    /// - Throws: ``Failure`` (retryable) when the blob cannot be written; nothing is then stored.
    static func store(_ output: inout JobQueue.Output, in blobs: any BlobStore) throws {
        guard !output.files.isEmpty else { return }
        let (plaintext, artefacts) = ResultArtefact.pack(output.files, blobID: UUID())
        do {
            try blobs.put(plaintext, id: artefacts[0].blobID)
        } catch {
            throw Failure(message: "the artefacts could not be stored: \(error)", retryable: true)
        }
        output.artefacts = ResultArtefact.json(artefacts)
        output.files = []
    }

    /// Deletes the artefacts of an output whose result was not stored (a fenced or duplicate
    /// completion), so that no blob is left without a row. Best effort: a blob left behind is
    /// collected as an orphan when a server starts.
    public func discard(_ output: JobQueue.Output) async {
        guard let artefacts = try? ResultArtefact.list(fromJSON: output.artefacts), !artefacts.isEmpty else { return }
        let blobs = self.blobs
        _ = try? await Self.offload {
            for id in Set(artefacts.map(\.blobID)) { try blobs.delete(id) }
        }
    }

    /// What a worker does with an image's bytes once it holds them: decode as untrusted input, run
    /// the configured extractor, turn the features into the stored JSON object. Synchronous and
    /// CPU-bound (call it off the cooperative pool); `karyon loadtest --physical-limit` times it in a
    /// tight loop to know what the workers' work costs.
    /// - Throws: ``Failure`` (not retryable for an image the decoder refuses or bad input).
    public static func extract(_ bytes: Data, with configured: ConfiguredExtractor, pixelSizeMicrons: Double?, sha256: String,
                               options: DecodeOptions = .init(), name: String = "image") throws -> JobQueue.Output {
        let decoded: AnyImage
        do {
            decoded = try ImageCodec.decode(data: bytes, options: options, name: name)
        } catch let error as ImageIOError {
            throw Failure(message: error.description, retryable: false)
        }
        let result: ExtractionResult
        do {
            result = try configured.run(ExtractionInput(image: decoded, pixelSizeMicrons: pixelSizeMicrons), imageSHA256: sha256)
        } catch let error as ExtractorError {
            throw Failure(message: error.message, retryable: error.code == .failed)
        }
        let pairs = zip(result.features.names, result.features.values).map { ($0, JSONText.value($1)) }
        var output = JobQueue.Output(features: JSONText.object(pairs), inputSHA256: sha256)
        if let objects = result.objects {
            do {
                output.files = try artefactFiles(of: objects)
            } catch {
                throw Failure(message: "the objects could not be exported: \(error)", retryable: false)
            }
        }
        return output
    }

    /// What an object-detecting extractor's result keeps besides its features, in the forms QuPath,
    /// scikit-image and spreadsheets read:
    /// - `labels`: the nuclei as a 16-bit PNG of instance labels (0 = background, object k = k);
    /// - `cell_labels`: the cells grown from them, when the extractor grew cells (same labels);
    /// - `objects`: one CSV row per object (``ObjectTable/csv``).
    ///
    /// The GeoJSON of the objects (``ObjectTable/geoJSONBytes()``) is not kept: the server makes
    /// it from these when it is asked for (``ObjectTable/init(restoringNuclei:cells:csv:pixelSizeMicrons:)``
    /// gives the same bytes), since it is three quarters of the objects' bytes and few results are
    /// ever opened in QuPath. Both label images carry the pixel size. A field with more than 65,535
    /// objects has no label images (PNG holds 16 bits), so its GeoJSON is kept instead; it and the
    /// CSV still list every object.
    ///
    /// Label images are deflated at zlib level 1: on a 1024² field with 462 nuclei, level 6 took
    /// 14 ms per image for 31 KB and level 1 takes 6 ms for 62 KB, small beside the image itself;
    /// at level 6 the two label images cost a quarter of the `nuclei` analysis.
    public static func artefactFiles(of objects: ObjectTable) throws -> [ResultArtefact.File] {
        var files: [ResultArtefact.File] = []
        func png(_ labels: LabelImage) throws -> [UInt8] {
            try ImageCodec.encode(.uint16(try labels.image16()), as: .png(compression: 1), pixelSizeMicrons: objects.pixelSizeMicrons)
        }
        if objects.nuclei.count <= 65535 {
            files.append(.init(kind: "labels", mediaType: "image/png", bytes: try png(objects.nuclei)))
            if let cells = objects.cells {
                files.append(.init(kind: "cell_labels", mediaType: "image/png", bytes: try png(cells)))
            }
        } else {
            files.append(.init(kind: "geojson", mediaType: "application/geo+json", bytes: objects.geoJSONBytes()))
        }
        files.append(.init(kind: "objects", mediaType: "text/csv; charset=utf-8", bytes: Array(objects.csv.utf8)))
        return files
    }

    /// The `geojson` artefact of a result that keeps `labels` (with `cell_labels` when cells were
    /// grown) and `objects` but not the GeoJSON itself (``artefactFiles(of:)``): the bytes the
    /// extractor's ``ObjectTable/geoJSONBytes()`` gave. Nil when `kinds` cannot make it.
    /// - Parameters:
    ///   - kinds: the result's artefacts by kind, as stored.
    /// - Throws: when a stored label image or the CSV cannot be read back.
    public static func derivedGeoJSON(from kinds: [String: Data]) throws -> [UInt8]? {
        guard kinds["geojson"] == nil, let labels = kinds["labels"], let csv = kinds["objects"] else { return nil }
        func labelImage(_ png: Data) throws -> LabelImage {
            guard case .uint16(let image) = try ImageCodec.decode(data: png, name: "stored labels"), image.channels == 1 else {
                throw ExtractorError(.invalidInput, "stored labels are not a 16-bit single-channel image")
            }
            return try LabelImage(width: image.width, height: image.height, labels: image.pixels.map { Int32($0) })
        }
        let table = try ObjectTable(restoringNuclei: try labelImage(labels), cells: try kinds["cell_labels"].map(labelImage),
                                    csv: String(decoding: csv, as: UTF8.self), pixelSizeMicrons: nil)
        return table.geoJSONBytes()
    }

    /// Process-wide settings for a process that runs jobs (a worker, a server with in-process
    /// workers, the physical-limit measurement, which must run the same path): freed image
    /// buffers stay mapped for the next job (``Allocator/keepImageBuffers()``), and libvips decodes
    /// and the extractors' pixel loops run each image on one thread (``Parallelism``), since the
    /// pools already run several images at once.
    public static func configureProcess() {
        Allocator.keepImageBuffers()
        try? ImageCodec.setThreadsPerImage(1)  // libvips failing to start fails the first decode, with its message
        Parallelism.setThreadsPerImage(1)
    }

    /// Runs CPU-heavy or blocking work on a thread of its own, never on a cooperative,
    /// event-loop or shared blocking-pool thread.
    public static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
