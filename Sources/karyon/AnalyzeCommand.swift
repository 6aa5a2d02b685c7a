import ArgumentParser
import Dispatch
import Foundation
import KaryonAnalysis
import KaryonImaging

/// `karyon analyze`: runs extractors on images and prints one result per (image, extractor).
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Run extractors on images; print one JSON object per (image, extractor), or a CSV row per image.",
        discussion: """
            Results are printed only when every image succeeded (so a failed run never leaves a \
            partial result), unless --keep-going is given: then every successful image is printed \
            and each failure is reported on stderr.
            """)

    @Argument(help: "PNG, JPEG or TIFF files.")
    var images: [String]

    @Option(name: .customLong("extractor"), help: "Extractor id (repeatable); see 'karyon extractors'.")
    var extractorIDs: [String] = []

    @Option(name: .customLong("param"), help: "Parameter as ID.KEY=VALUE (repeatable), e.g. intensity.brightness=channel-mean.")
    var params: [String] = []

    @Option(name: .customLong("pixel-size"), help: "Micrometres per pixel (default: from the file's resolution tags, else unknown).")
    var pixelSize: Double?

    @Option(help: "Mask image (nonzero = analysed): one for all images, or one per image in order.")
    var mask: [String] = []

    @Option(help: "Output format: jsonl or csv.")
    var format: Format = .jsonl

    @Option(help: "Images analysed at once (default: all cores); with fewer images than that, an image's extractors share the rest.")
    var jobs: Int?

    @Option(name: .customLong("pixel-limit"), help: "Refuse images with more pixels than this (default 268435456).")
    var pixelLimit: Int = DecodeOptions.defaultPixelLimit

    @Option(help: "TIFF page to read (0-based).")
    var page: Int = 0

    @Flag(name: .customLong("keep-going"), help: "Print successful images even when others fail.")
    var keepGoing = false

    @Option(help: "Write one CSV row per detected object (nuclei/cells) of the nucleus-based extractor (nuclei, ki67, her2).")
    var objects: String?

    @Option(help: "Write the objects as a GeoJSON FeatureCollection QuPath imports (cell and nucleus polygons, measurements, class).")
    var geojson: String?

    @Option(help: "Write the nuclei as a 16-bit instance label PNG (0 = background).")
    var labels: String?

    @Option(help: "Write an RGB PNG of the image with the objects' outlines coloured by class.")
    var overlay: String?

    enum Format: String, ExpressibleByArgument { case jsonl, csv }

    /// Checks option values; errors are one line, like every other Karyon error.
    func checkOptions() throws {
        guard !extractorIDs.isEmpty else { throw CLIError("give at least one --extractor (see 'karyon extractors')") }
        if let jobs, jobs < 1 { throw CLIError("--jobs must be at least 1, got \(jobs)") }
        if let pixelSize, !(pixelSize > 0 && pixelSize < 1000) {
            throw CLIError("--pixel-size must be a positive number of micrometres below 1000, got \(pixelSize)")
        }
        if !(mask.isEmpty || mask.count == 1 || mask.count == images.count) {
            throw CLIError("give one --mask for all images or one per image (\(images.count)), not \(mask.count)")
        }
        guard pixelLimit > 0 else { throw CLIError("--pixel-limit must be positive, got \(pixelLimit)") }
        let outputs = [("--objects", objects), ("--geojson", geojson), ("--labels", labels), ("--overlay", overlay)]
        if let flag = outputs.first(where: { $0.1 != nil })?.0,
           try !extractorIDs.contains(where: { try ExtractorRegistry.standard.type(for: $0).detectsObjects }) {
            throw CLIError("\(flag) needs a nucleus-based extractor in the run (nuclei, ki67 or her2)")
        }
        let paths = outputs.compactMap(\.1)
        guard Set(paths).count == paths.count else { throw CLIError("--objects, --geojson, --labels and --overlay need different files") }
    }

    /// Where an object output goes for one image: the path as given for a single image, else
    /// with `-<image stem>` before the extension.
    func outputPath(_ path: String, for image: String) -> String {
        guard images.count > 1 else { return path }
        let stem = ((image as NSString).lastPathComponent as NSString).deletingPathExtension
        let ext = (path as NSString).pathExtension
        let base = ext.isEmpty ? path : (path as NSString).deletingPathExtension
        return ext.isEmpty ? "\(base)-\(stem)" : "\(base)-\(stem).\(ext)"
    }

    /// Writes the object outputs of the last object-detecting extractor of each image.
    func writeObjects(_ analyzed: [AnalyzedImage]) throws {
        guard objects != nil || geojson != nil || labels != nil || overlay != nil else { return }
        for a in analyzed {
            guard let table = a.results.last(where: { $0.objects != nil })?.objects else { continue }
            if let objects { try AtomicFile.write(Array(table.csv.utf8), to: outputPath(objects, for: a.path)) }
            if let geojson { try AtomicFile.write(table.geoJSONBytes(), to: outputPath(geojson, for: a.path)) }
            if let labels {
                try ImageCodec.write(.uint16(try table.nuclei.image16()), to: outputPath(labels, for: a.path),
                                     pixelSizeMicrons: table.pixelSizeMicrons)
            }
            if let overlay {
                try ImageCodec.write(.uint8(try table.overlay(on: a.image)), to: outputPath(overlay, for: a.path),
                                     pixelSizeMicrons: table.pixelSizeMicrons)
            }
        }
    }

    func run() throws {
        try checkOptions()
        // Slots beyond the images run an image's extractors side by side (one field through
        // nuclei and ki67 on two cores).
        let slots = jobs ?? ProcessInfo.processInfo.activeProcessorCount
        let analyzer = ImageAnalyzer(
            extractors: try configureExtractors(), decodeOptions: DecodeOptions(pixelLimit: pixelLimit, page: page),
            extractorsAtOnce: max(1, slots / max(1, min(images.count, slots))))
        // Fail fast on missing files, non-images and dimension bombs, before decoding anything.
        if !keepGoing {
            for path in images { _ = try analyzer.probe(path) }
        }
        let outcomes = analyzeAll(analyzer)
        var failures = 0
        for case .failure(let error) in outcomes {
            failures += 1
            if !keepGoing { throw error }
            FileHandle.standardError.write(Data("karyon: error: \(errorMessage(error))\n".utf8))
        }
        let analyzed = outcomes.compactMap { try? $0.get() }
        try writeObjects(analyzed)
        switch format {
        case .jsonl: emit(analyzed.map(jsonLines).joined())
        case .csv: emit(csv(analyzed))
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Parses `--param ID.KEY=VALUE` and builds every extractor, refusing bad parameters up front.
    func configureExtractors() throws -> [ConfiguredExtractor] {
        var byExtractor: [String: [String: String]] = [:]
        for p in params {
            guard let eq = p.firstIndex(of: "="), let dot = p[..<eq].firstIndex(of: ".") else {
                throw CLIError("--param must look like ID.KEY=VALUE, got '\(p)'")
            }
            let id = String(p[..<dot]), key = String(p[p.index(after: dot)..<eq]), value = String(p[p.index(after: eq)...])
            guard extractorIDs.contains(id) else {
                _ = try ExtractorRegistry.standard.type(for: id)
                throw CLIError("--param \(p) is for extractor '\(id)', which is not selected; add --extractor \(id)")
            }
            byExtractor[id, default: [:]][key] = value
        }
        return try extractorIDs.map { try ExtractorRegistry.standard.configure($0, text: byExtractor[$0] ?? [:]) }
    }

    func analyzeAll(_ analyzer: ImageAnalyzer) -> [Result<AnalyzedImage, Error>] {
        let outcomes = ResultSlots(count: images.count)
        let workers = min(images.count, jobs ?? ProcessInfo.processInfo.activeProcessorCount)
        let next = Counter()
        let masks = mask
        let paths = images
        let pixelSize = self.pixelSize
        let stopOnError = !keepGoing
        DispatchQueue.concurrentPerform(iterations: max(1, workers)) { _ in
            while let i = next.take(below: paths.count) {
                if stopOnError && outcomes.hasFailure { return }
                let maskPath = masks.isEmpty ? nil : masks.count == 1 ? masks[0] : masks[i]
                outcomes.set(i, Result { try analyzer.analyze(paths[i], maskPath: maskPath, pixelSizeMicrons: pixelSize) })
            }
        }
        return outcomes.all()
    }

    func jsonLines(_ a: AnalyzedImage) -> String {
        a.results.map { r in
            JSONText.object([
                ("image", JSONText.string(a.path)),
                ("sha256", JSONText.string(a.sha256)),
                ("width", String(a.header.width)),
                ("height", String(a.header.height)),
                ("extractor", JSONText.string(r.identity.extractor)),
                ("version", JSONText.string(r.identity.version)),
                ("parameters", JSONText.parameters(r.parameters)),
                ("features", JSONText.object(zip(r.features.names, r.features.values).map { ($0, JSONText.value($1)) })),
            ]) + "\n"
        }.joined()
    }

    /// One row per image; feature columns `<extractor>.<feature>` in order of first appearance.
    func csv(_ analyzed: [AnalyzedImage]) -> String {
        var columns: [String] = []
        var seen = Set<String>()
        for a in analyzed {
            for r in a.results {
                for name in r.features.names {
                    let column = "\(r.identity.extractor).\(name)"
                    if seen.insert(column).inserted { columns.append(column) }
                }
            }
        }
        var out = (["image", "sha256", "width", "height"] + columns).map(csvField).joined(separator: ",") + "\n"
        for a in analyzed {
            var values: [String: String] = [:]
            for r in a.results {
                for (name, value) in zip(r.features.names, r.features.values) {
                    values["\(r.identity.extractor).\(name)"] = value.description
                }
            }
            let row = [a.path, a.sha256, String(a.header.width), String(a.header.height)] + columns.map { values[$0] ?? "" }
            out += row.map(csvField).joined(separator: ",") + "\n"
        }
        return out
    }
}

func errorMessage(_ error: Error) -> String {
    switch error {
    case let e as ImageIOError: e.description
    case let e as ExtractorError: e.description
    case let e as ImagingError: e.description
    default: "\(error)"
    }
}

/// Result slots filled concurrently by index.
final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<AnalyzedImage, Error>?]
    private var failed = false

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ r: Result<AnalyzedImage, Error>) {
        lock.withLock {
            slots[i] = r
            if case .failure = r { failed = true }
        }
    }

    var hasFailure: Bool { lock.withLock { failed } }

    /// Filled slots in input order; slots skipped after a failure (without --keep-going) are left out.
    func all() -> [Result<AnalyzedImage, Error>] { lock.withLock { slots.compactMap { $0 } } }
}

/// A shared counter handing out indices to workers.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
