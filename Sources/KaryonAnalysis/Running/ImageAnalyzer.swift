import Foundation
import KaryonImaging

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

    public init(extractors: [ConfiguredExtractor], decodeOptions: DecodeOptions = .init()) {
        self.extractors = extractors
        self.decodeOptions = decodeOptions
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
        let results = try extractors.map { try $0.run(input, imageSHA256: digest) }
        return AnalyzedImage(path: path, sha256: digest, header: header, image: image, results: results)
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
