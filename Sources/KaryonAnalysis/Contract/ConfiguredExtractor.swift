import Crypto
import Foundation
import KaryonImaging

/// The identity and cache key of a stored result: (extractor id, version, parameter hash, image SHA-256).
public struct ResultIdentity: Sendable, Hashable, Codable {
    public var extractor: String
    public var version: String
    /// SHA-256 (hex) of the canonical JSON of the complete parameter set.
    public var parameterHash: String
    /// SHA-256 (hex) of the encoded image file.
    public var imageSHA256: String

    public init(extractor: String, version: String, parameterHash: String, imageSHA256: String) {
        self.extractor = extractor
        self.version = version
        self.parameterHash = parameterHash
        self.imageSHA256 = imageSHA256
    }
}

/// An extractor's output with the identity that produced it.
public struct ExtractionResult: Sendable, Equatable {
    public var identity: ResultIdentity
    public var parameters: ParameterSet
    public var columns: [FeatureColumn]
    public var features: FeatureVector
    /// The objects found, for object-detecting extractors.
    public var objects: ObjectTable?
}

/// An extractor built from validated parameters, ready to run on many images.
public struct ConfiguredExtractor: Sendable {
    public let extractor: any Extractor
    public let parameters: ParameterSet

    public var descriptor: ExtractorDescriptor { type(of: extractor).descriptor }

    /// SHA-256 (hex) of ``ParameterSet/canonicalJSON``.
    public var parameterHash: String { parameters.digest }

    /// Runs the extractor and checks that what it produced is what it declared: the same names in
    /// the same order, numbers finite, kinds matching.
    /// - Throws: ``ExtractorError``; `outputMismatch` means a defect in the extractor.
    public func run(_ input: ExtractionInput, imageSHA256: String) throws -> ExtractionResult {
        if let mask = input.mask, mask.width != input.image.width || mask.height != input.image.height || mask.channels != 1 {
            throw ExtractorError(
                .invalidInput,
                "the mask is \(mask.width)×\(mask.height)×\(mask.channels) but must be one channel of \(input.image.width)×\(input.image.height)")
        }
        if let p = input.pixelSizeMicrons, !(p > 0 && p.isFinite && p < 1000) {
            throw ExtractorError(.invalidInput, "pixel size must be a positive number of micrometres below 1000, got \(p)")
        }
        let columns = extractor.columns(for: InputLayout(input.image))
        let output: ExtractionOutput
        do {
            output = try extractor.analyze(input)
        } catch let error as ExtractorError {
            throw error
        } catch let error as ImagingError {
            throw ExtractorError(.invalidInput, "\(descriptor.id): \(error.message)")
        }
        let id = descriptor.id
        let features = output.features
        try output.objects?.validate(extractor: id)
        guard features.names == columns.map(\.name) else {
            let extra = Set(features.names).subtracting(columns.map(\.name)).sorted()
            let missing = Set(columns.map(\.name)).subtracting(features.names).sorted()
            throw ExtractorError(
                .outputMismatch,
                "\(id) produced columns that differ from its declaration (undeclared: \(extra), missing: \(missing))")
        }
        for (column, value) in zip(columns, features.values) {
            switch (column.kind, value) {
            case (.number, .number(let v)):
                guard v.isFinite else {
                    throw ExtractorError(.outputMismatch, "\(id) produced a non-finite value for \(column.name)")
                }
            case (.number, .integer), (.integer, .integer), (.text, .text):
                break
            default:
                throw ExtractorError(.outputMismatch, "\(id) produced \(value) for \(column.name), declared \(column.kind.rawValue)")
            }
        }
        let identity = ResultIdentity(
            extractor: id, version: descriptor.version, parameterHash: parameterHash, imageSHA256: imageSHA256)
        return ExtractionResult(
            identity: identity, parameters: parameters, columns: columns, features: features, objects: output.objects)
    }
}

/// Lower-case hexadecimal SHA-256 of `bytes`.
public func sha256Hex<D: DataProtocol>(_ bytes: D) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}
