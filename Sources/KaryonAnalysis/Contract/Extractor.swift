import KaryonImaging

/// How reproducible an extractor's output is for the same input and parameters.
public enum Determinism: Sendable, Hashable, Codable {
    /// Bit-identical on every run and machine of the same build.
    case bitExact
    /// Identical up to an absolute tolerance (e.g. parallel floating-point reductions).
    case tolerance(Double)
    /// Uses randomness only from the given parameter's seed.
    case seeded(parameter: String)
}

/// What an extractor declares before it runs (house style §3).
public struct ExtractorDescriptor: Sendable {
    /// Stable kebab-case id, e.g. `intensity`.
    public var id: String
    /// Semantic version; the major goes up whenever numbers change for the same input and parameters.
    public var version: String
    public var summary: String
    /// Full citations, with DOI where one exists.
    public var references: [String]
    public var parameters: [ParameterSpec]
    public var determinism: Determinism

    public init(id: String, version: String, summary: String, references: [String],
                parameters: [ParameterSpec], determinism: Determinism) {
        self.id = id
        self.version = version
        self.summary = summary
        self.references = references
        self.parameters = parameters
        self.determinism = determinism
    }
}

/// The shape of an input as far as output columns depend on it.
public struct InputLayout: Sendable, Hashable {
    /// Colour channels without alpha: 1 (gray) or 3 (RGB).
    public var colorChannels: Int
    public var sampleType: SampleType

    public init(colorChannels: Int, sampleType: SampleType) {
        self.colorChannels = colorChannels
        self.sampleType = sampleType
    }

    public init(_ image: AnyImage) {
        self.init(colorChannels: image.colorChannels, sampleType: image.sampleType)
    }
}

/// One image to analyse, with an optional mask and its physical pixel size.
public struct ExtractionInput: Sendable {
    public var image: AnyImage
    /// Nonzero = inside; same width and height as `image`.
    public var mask: Image<UInt8>?
    /// Micrometres per pixel, when known.
    public var pixelSizeMicrons: Double?
    /// Work the extractors of this one input share (``ImageAnalyzer`` sets it when it runs several
    /// extractors on an image); nil: each computes its own. Belongs to this image, mask and pixel
    /// size: give a changed input a new one or none.
    public var shared: SharedWork?

    public init(image: AnyImage, mask: Image<UInt8>? = nil, pixelSizeMicrons: Double? = nil, shared: SharedWork? = nil) {
        self.image = image
        self.mask = mask
        self.pixelSizeMicrons = pixelSizeMicrons
        self.shared = shared
    }
}

/// The contract every analysis implements.
///
/// An extractor is built from a validated ``ParameterSet`` (invalid parameters are refused at
/// construction, never half-way through a run), declares its output columns for an input layout,
/// and computes a ``FeatureVector`` whose names must equal those columns, in order; the
/// ``ExtractorRunner`` checks that.
public protocol Extractor: Sendable {
    static var descriptor: ExtractorDescriptor { get }
    /// - Throws: ``ExtractorError`` when parameters are valid one by one but not together.
    init(parameters: ParameterSet) throws
    /// Output columns for an input of this layout, in output order.
    func columns(for layout: InputLayout) -> [FeatureColumn]
    /// - Throws: ``ExtractorError`` for input the extractor cannot analyse.
    func extract(_ input: ExtractionInput) throws -> FeatureVector
    /// Features and, for extractors that detect objects (nuclei, cells), the objects with their
    /// measurements. The default returns ``extract(_:)``'s features alone.
    func analyze(_ input: ExtractionInput) throws -> ExtractionOutput
    /// Whether ``analyze(_:)`` returns objects (nuclei, cells); false unless declared.
    static var detectsObjects: Bool { get }
}

extension Extractor {
    public static var detectsObjects: Bool { false }

    public func analyze(_ input: ExtractionInput) throws -> ExtractionOutput {
        ExtractionOutput(features: try extract(input))
    }
}
