import Foundation
import KaryonImaging
import Synchronization

/// Everything known about one analysed image file.
public struct AnalyzedImage: Sendable {
    public var path: String
    public var sha256: String
    public var header: ImageHeader
    /// The decoded pixels (for overlays of the objects found).
    public var image: AnyImage
    public var results: [ExtractionResult]
}

/// Reads an image file once (its bytes give both the SHA-256 and the pixels) and runs a list of
/// configured extractors on it.
public struct ImageAnalyzer: Sendable {
    public var extractors: [ConfiguredExtractor]
    public var decodeOptions: DecodeOptions
    /// How many of an image's extractors run at once. More than one suits fewer images than
    /// cores: the extractors' own pixel loops use every core only in parts (on two cores a 1024²
    /// field through `nuclei` and `ki67` took 0.19–0.22 s side by side, 0.22–0.26 s one after
    /// the other). With as many images at once as cores, 1. Extractors that share work (the
    /// same segmentation) wait for each other's part of it either way.
    public var extractorsAtOnce: Int

    public init(extractors: [ConfiguredExtractor], decodeOptions: DecodeOptions = .init(), extractorsAtOnce: Int = 1) {
        self.extractors = extractors
        self.decodeOptions = decodeOptions
        self.extractorsAtOnce = extractorsAtOnce
    }

    /// Checks that `path` is a readable image within the pixel cap, reading only its header.
    public func probe(_ path: String) throws -> ImageHeader {
        let header = try ImageCodec.probe(file: path, page: decodeOptions.page)
        guard header.width.multipliedReportingOverflow(by: header.height).overflow == false,
              header.pixelCount <= decodeOptions.pixelLimit
        else {
            throw ImageIOError(
                .tooLarge,
                "\(path): \(header.width)×\(header.height) pixels exceeds the limit of \(decodeOptions.pixelLimit) pixels; "
                    + "tile or downsample the image, or raise the pixel limit")
        }
        return header
    }

    /// Analyses the image at `path`.
    /// - Parameters:
    ///   - maskPath: a one-channel image of the same size; nonzero pixels are analysed.
    ///   - pixelSizeMicrons: overrides the file's resolution tags.
    /// - Throws: ``ImageIOError`` or ``ExtractorError``; nothing is returned half-done.
    public func analyze(_ path: String, maskPath: String? = nil, pixelSizeMicrons: Double? = nil) throws -> AnalyzedImage {
        // The header check refuses bombs and non-images before the file is read into memory.
        let header = try probe(path)
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ImageIOError(.unreadable, "\(path): cannot read the file (\(error.localizedDescription))")
        }
        let image = try ImageCodec.decode(data: bytes, options: decodeOptions, name: path)
        var mask: Image<UInt8>?
        if let maskPath {
            mask = try Self.loadMask(maskPath, width: image.width, height: image.height)
        }
        let input = ExtractionInput(image: image, mask: mask, pixelSizeMicrons: pixelSizeMicrons ?? header.pixelSizeMicrons)
        let digest = sha256Hex(bytes)
        let results = try run(input, imageSHA256: digest)
        return AnalyzedImage(path: path, sha256: digest, header: header, image: image, results: results)
    }

    /// Runs every extractor on one decoded input, up to ``extractorsAtOnce`` at a time; results
    /// come in the order of ``extractors``. Work they have in common (a segmentation asked for with
    /// the same settings) is done once (``SharedWork``).
    /// - Throws: the error of the first extractor (in that order) that failed, as running them one
    ///   after the other would; no results then.
    public func run(_ input: ExtractionInput, imageSHA256 digest: String) throws -> [ExtractionResult] {
        let extractors = self.extractors
        var prepared = input
        if extractors.count > 1 { prepared.shared = SharedWork() }
        let input = prepared
        let threads = Swift.min(Swift.max(1, extractorsAtOnce), extractors.count)
        guard threads > 1 else { return try extractors.map { try $0.run(input, imageSHA256: digest) } }
        let outcomes = Mutex([Result<ExtractionResult, any Error>?](repeating: nil, count: extractors.count))
        let next = Atomic<Int>(0)
        let work: @Sendable () -> Void = {
            while true {
                let k = next.add(1, ordering: .relaxed).oldValue
                guard k < extractors.count else { return }
                let outcome = Result { try extractors[k].run(input, imageSHA256: digest) }
                outcomes.withLock { $0[k] = outcome }
            }
        }
        // Threads of their own rather than `concurrentPerform`: libdispatch runs a parallel loop
        // nested in `concurrentPerform` with fewer threads (one, on two cores), so an extractor
        // waiting for shared work would leave the other's pixel loops on one core.
        let finished = DispatchGroup()
        for _ in 1..<threads {
            finished.enter()
            Thread.detachNewThread {
                work()
                finished.leave()
            }
        }
        work()
        finished.wait()
        return try outcomes.withLock { $0 }.map { try $0!.get() }
    }

    /// Loads a mask image: its first channel, nonzero = inside (8- or 16-bit, any layout).
    /// - Throws: when it cannot be read or its size differs from the image's.
    public static func loadMask(_ path: String, width: Int, height: Int) throws -> Image<UInt8> {
        let any = try ImageCodec.decode(file: path)
        guard any.width == width, any.height == height else {
            throw ExtractorError(
                .invalidInput, "mask \(path) is \(any.width)×\(any.height) but the image is \(width)×\(height); give a mask of the same size")
        }
        let mask: Image<UInt8> = switch any {
        case .uint8(let i): try i.channel(0).map { $0 != 0 ? 1 : 0 }
        case .uint16(let i): try i.channel(0).map { $0 != 0 ? 1 : 0 }
        case .float32(let i): try i.channel(0).map { $0 != 0 ? 1 : 0 }
        }
        return mask
    }
}
