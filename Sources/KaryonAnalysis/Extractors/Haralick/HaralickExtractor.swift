import KaryonImaging

/// Haralick's 13 texture features per direction, with their mean and range over directions
/// (mahotas' `return_mean_ptp`), from the same co-occurrence matrices as `glcm` (grey levels,
/// quantisation, scikit-image offsets, masks). Formulas and every deviation from mahotas 1.4:
/// ``HaralickFeature`` and ``GLCM/haralick(values:width:height:levels:offsets:symmetric:mask:)``.
///
/// Columns: `<feature>_d<distance>_a<angle>`, then `<feature>_d<distance>_mean` and
/// `<feature>_d<distance>_range` (max − min over angles).
public struct HaralickExtractor: Extractor {
    public static let allFeatures = HaralickFeature.allCases.map(\.rawValue)

    public static let descriptor = ExtractorDescriptor(
        id: "haralick",
        version: "1.0.0",
        summary: "Haralick's 13 co-occurrence texture features per direction, with mean and range over directions",
        references: [
            "R. M. Haralick, K. Shanmugam, I. Dinstein, Textural features for image classification, IEEE Trans. SMC 3(6):610–621 (1973), doi:10.1109/TSMC.1973.4309314",
            "L. P. Coelho, Mahotas: open source software for scriptable computer vision, J. Open Research Software 1(1):e3 (2013), doi:10.5334/jors.ac (haralick_features, mahotas 1.4)",
        ],
        parameters: CooccurrenceSettings.parameters() + [
            ParameterSpec("features", .choiceList(allFeatures), default: .textList(allFeatures),
                          help: "features to compute"),
        ],
        determinism: .bitExact)

    let settings: CooccurrenceSettings
    let features: [HaralickFeature]

    public init(parameters: ParameterSet) throws {
        settings = try CooccurrenceSettings(parameters, extractor: "haralick")
        features = parameters.texts("features").map { HaralickFeature(rawValue: $0)! }
    }

    public func columns(for layout: InputLayout) -> [FeatureColumn] {
        settings.columns(names: features.map(\.rawValue), summaries: [.mean, .range])
    }

    public func extract(_ input: ExtractionInput) throws -> FeatureVector {
        let (values, mask) = try settings.prepare(input, extractor: "haralick")
        let table: [[HaralickFeature: Double]]
        do {
            table = try GLCM.haralick(values: values, width: input.image.width, height: input.image.height,
                                      levels: settings.levels, offsets: settings.offsets,
                                      symmetric: settings.symmetric, mask: mask)
        } catch let e as ImagingError {
            throw ExtractorError(.invalidInput, "haralick: \(e.message)")
        }
        return settings.features(names: features.map(\.rawValue), summaries: [.mean, .range]) { n, k in
            table[k][features[n]]!
        }
    }
}
