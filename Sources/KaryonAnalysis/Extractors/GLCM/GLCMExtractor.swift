import Foundation
import KaryonImaging

/// Grey-level co-occurrence (GLCM) texture properties with scikit-image 0.26 parity.
///
/// The image becomes integer grey levels as scikit-image users prepare it: RGB(A) through
/// `rgb2gray` (BT.709 weights, float64) and `img_as_ubyte` (`rint(255·g)`); 8-bit gray as it is;
/// 16-bit gray as it is. With `quantize` (default) and `levels` below the type's range, an 8-bit
/// value v becomes `v·levels/256` and a 16-bit one `v·levels/65536` (integer division); without
/// it, every value must already be below `levels`. Then `graycomatrix(distances, angles, levels,
/// symmetric)` and `graycoprops` for each chosen property (see ``GLCM``). With a mask, only pairs
/// whose two pixels are both inside count.
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
        parameters: [
            ParameterSpec("distances", .integerList, default: .integerList([1]), minimum: 1, maximum: 4096, unit: "px",
                          help: "pixel-pair distances"),
            ParameterSpec("angles", .numberList, default: .numberList([0, 45, 90, 135]), minimum: 0, maximum: 360, unit: "degrees",
                          help: "pair directions; 0 = to the right, 90 = downward (scikit-image's convention)"),
            ParameterSpec("levels", .integer, default: .integer(256), minimum: 2, maximum: 65536,
                          help: "grey levels of the matrix"),
            ParameterSpec("symmetric", .boolean, default: .boolean(true), help: "count each pair in both orders (P + Pᵀ)"),
            ParameterSpec("props", .choiceList(allProperties), default: .textList(allProperties),
                          help: "properties to compute"),
            ParameterSpec("quantize", .boolean, default: .boolean(true),
                          help: "rescale grey values to levels (8-bit: v·levels/256, 16-bit: v·levels/65536); off requires values < levels"),
        ],
        determinism: .bitExact)

    let distances: [Int]
    let angles: [Double]
    let levels: Int
    let symmetric: Bool
    let properties: [GLCMProperty]
    let quantize: Bool

    public init(parameters: ParameterSet) throws {
        distances = parameters.integers("distances")
        angles = parameters.numbers("angles")
        levels = parameters.integer("levels")
        symmetric = parameters.boolean("symmetric")
        properties = parameters.texts("props").map { GLCMProperty(rawValue: $0)! }
        quantize = parameters.boolean("quantize")
        guard Set(distances).count == distances.count, Set(angles).count == angles.count else {
            throw ExtractorError(.invalidParameter, "glcm: distances and angles must not repeat a value")
        }
    }

    static func angleName(_ a: Double) -> String {
        a == a.rounded() ? String(Int(a)) : String(a)
    }

    public func columns(for layout: InputLayout) -> [FeatureColumn] {
        var columns: [FeatureColumn] = []
        for p in properties {
            for d in distances {
                for a in angles {
                    columns.append(FeatureColumn("\(p.rawValue)_d\(d)_a\(Self.angleName(a))", help: "\(p.rawValue), distance \(d) px, angle \(Self.angleName(a))°"))
                }
                columns.append(FeatureColumn("\(p.rawValue)_d\(d)_mean", help: "\(p.rawValue), distance \(d) px, mean over angles"))
            }
        }
        return columns
    }

    public func extract(_ input: ExtractionInput) throws -> FeatureVector {
        let image = input.image
        guard image.width >= 2 || image.height >= 2 else {
            throw ExtractorError(.invalidInput, "glcm needs an image with at least two pixels in a row or column, got \(image.width)×\(image.height)")
        }
        let values = try GreyLevels.quantized(image, levels: levels, quantize: quantize, extractor: "glcm")
        let mask = try input.maskSamples("glcm")
        var offsets: [PixelOffset] = []
        for d in distances {
            for a in angles { offsets.append(PixelOffset(distance: d, angleDegrees: a)) }
        }
        let table: [[GLCMProperty: Double]]
        do {
            table = try GLCM.properties(values: values, width: image.width, height: image.height, levels: levels,
                                        offsets: offsets, symmetric: symmetric, mask: mask)
        } catch let e as ImagingError {
            throw ExtractorError(.invalidInput, "glcm: \(e.message)")
        }
        var out = FeatureVector()
        for p in properties {
            for (di, d) in distances.enumerated() {
                var sum = 0.0
                for (ai, a) in angles.enumerated() {
                    let v = table[di * angles.count + ai][p]!
                    sum += v
                    out.append("\(p.rawValue)_d\(d)_a\(Self.angleName(a))", v)
                }
                out.append("\(p.rawValue)_d\(d)_mean", sum / Double(angles.count))
            }
        }
        return out
    }
}
