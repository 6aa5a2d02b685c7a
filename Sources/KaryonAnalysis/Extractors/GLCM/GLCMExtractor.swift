import Foundation
import KaryonImaging

/// Grey-level co-occurrence (GLCM) texture properties with scikit-image 0.26 parity.
///
/// The image becomes integer grey levels as scikit-image users prepare it (see ``GreyLevels``):
/// RGB(A) through `rgb2gray` (BT.709 weights, float64) and `img_as_ubyte` (`rint(255·g)`); 8-bit
/// and 16-bit gray as they are. With `quantize` (default) and `levels` below the type's range, an
/// 8-bit value v becomes `v·levels/256` and a 16-bit one `v·levels/65536` (integer division);
/// without it, every value must already be below `levels`. Then `graycomatrix(distances, angles,
/// levels, symmetric)` and `graycoprops` for each chosen property (see ``GLCM``). With a mask,
/// only pairs whose two pixels are both inside count.
///
/// Columns: `<prop>_d<distance>_a<angle>` for every distance and angle (degrees), then
/// `<prop>_d<distance>_mean`, the mean over angles (the usual rotation-invariant summary).
public struct GLCMExtractor: Extractor {
    public static let allProperties = GLCMProperty.allCases.map(\.rawValue)

    public static let descriptor = ExtractorDescriptor(
        id: "glcm",
        version: "1.0.0",
        summary: "Grey-level co-occurrence texture properties (contrast, dissimilarity, homogeneity, ASM, energy, correlation, mean, variance, std, entropy)",
        references: [
            "R. M. Haralick, K. Shanmugam, I. Dinstein, Textural features for image classification, IEEE Trans. SMC 3(6):610–621 (1973), doi:10.1109/TSMC.1973.4309314",
            "S. van der Walt et al., scikit-image: image processing in Python, PeerJ 2:e453 (2014), doi:10.7717/peerj.453 (graycomatrix, graycoprops 0.26)",
        ],
        parameters: CooccurrenceSettings.parameters() + [
            ParameterSpec("props", .choiceList(allProperties), default: .textList(allProperties),
                          help: "properties to compute"),
        ],
        determinism: .bitExact)

    let settings: CooccurrenceSettings
    let properties: [GLCMProperty]

    public init(parameters: ParameterSet) throws {
        settings = try CooccurrenceSettings(parameters, extractor: "glcm")
        properties = parameters.texts("props").map { GLCMProperty(rawValue: $0)! }
    }

    public func columns(for layout: InputLayout) -> [FeatureColumn] {
        settings.columns(names: properties.map(\.rawValue), summaries: [.mean])
    }

    public func extract(_ input: ExtractionInput) throws -> FeatureVector {
        let (values, mask) = try settings.prepare(input, extractor: "glcm")
        let table: [[GLCMProperty: Double]]
        do {
            table = try GLCM.properties(values: values, width: input.image.width, height: input.image.height,
                                        levels: settings.levels, offsets: settings.offsets,
                                        symmetric: settings.symmetric, mask: mask)
        } catch let e as ImagingError {
            throw ExtractorError(.invalidInput, "glcm: \(e.message)")
        }
        return settings.features(names: properties.map(\.rawValue), summaries: [.mean]) { n, k in
            table[k][properties[n]]!
        }
    }
}
