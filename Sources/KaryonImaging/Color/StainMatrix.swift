/// The optical-density colour of one stain: how much it absorbs red, green and blue.
public struct StainVector: Sendable, Equatable, Codable {
    public var name: String
    public var r: Double
    public var g: Double
    public var b: Double

    public init(_ name: String, _ r: Double, _ g: Double, _ b: Double) {
        self.name = name
        self.r = r
        self.g = g
        self.b = b
    }

    public var length: Double { (r * r + g * g + b * b).squareRoot() }

    /// The vector scaled to unit length (QuPath normalises every stain vector).
    public func normalized() -> StainVector {
        let l = length
        return StainVector(name, r / l, g / l, b / l)
    }
}

/// Three stain vectors (rows = stains, columns = R, G, B) and the inverse used to separate them.
///
/// Colour deconvolution (Ruifrok & Johnston 2001) models a brightfield pixel's optical density as
/// `od = amounts · M`, where row *k* of `M` is stain *k*'s OD vector; the stain amounts are
/// `od · M⁻¹`. When only two stains are given, the third row is their normalised cross product,
/// so a residual channel shows what the two stains do not explain.
///
/// Presets follow the reference tools exactly: ``qupathHDAB`` and ``qupathHE`` are QuPath's unit
/// vectors; ``scikitImageHED`` and ``scikitImageHDX`` are scikit-image's `rgb_from_hed` and
/// `rgb_from_hdx`, which scikit-image does *not* normalise (and whose third HDX row is the
/// unnormalised cross product).
///
/// ## References
/// - A. C. Ruifrok, D. A. Johnston, "Quantification of histochemical staining by color
///   deconvolution", Anal. Quant. Cytol. Histol. 23(4):291–299, 2001.
/// - scikit-image 0.26 `skimage.color.colorconv` (`rgb_from_hed`, `rgb_from_hdx`).
/// - P. Bankhead et al., "QuPath: Open source software for digital pathology image analysis",
///   Sci. Rep. 7:16878, 2017, doi:10.1038/s41598-017-17204-5 (`ColorDeconvolutionStains`).
public struct StainMatrix: Sendable, Equatable {
    /// The three stain vectors (rows of `M`).
    public let stains: [StainVector]
    /// `M⁻¹`, row-major: stain amount *j* = Σᵢ odᵢ · inverse[i][j].
    public let inverse: [[Double]]

    /// Builds a matrix from two or three stains.
    /// - Parameters:
    ///   - normalize: scale every given stain to unit length first (QuPath's convention).
    ///   - residualNormalized: normalise the cross product used as a missing third stain (QuPath);
    ///     scikit-image's `rgb_from_hdx` keeps it unnormalised.
    /// - Throws: ``ImagingError`` for zero or negative vectors, or stains that are not independent.
    public init(_ stains: [StainVector], normalize: Bool = true, residualNormalized: Bool = true) throws {
        try self.init(stains, normalize: normalize, residualNormalized: residualNormalized, allowsNegative: false)
    }

    /// The same vectors under other names (e.g. an estimated second stain called `DAB`).
    /// - Precondition: one name per stain.
    public func renamed(_ names: [String]) -> StainMatrix {
        precondition(names.count == stains.count, "one name per stain")
        let renamed = zip(stains, names).map { StainVector($1, $0.r, $0.g, $0.b) }
        return try! StainMatrix(renamed, normalize: false, residualNormalized: false, allowsNegative: true)
    }

    /// As the public initializer; `allowsNegative` accepts components below zero, which stain vectors
    /// estimated from an image (Macenko) can have in a channel the stain barely absorbs.
    init(_ stains: [StainVector], normalize: Bool, residualNormalized: Bool, allowsNegative: Bool) throws {
        guard stains.count == 2 || stains.count == 3 else {
            throw ImagingError(.invalidArgument, "a stain matrix takes 2 or 3 stain vectors, got \(stains.count)")
        }
        for s in stains {
            guard [s.r, s.g, s.b].allSatisfy({ $0.isFinite && (allowsNegative || $0 >= 0) }), s.length > 1e-12 else {
                throw ImagingError(
                    .invalidArgument,
                    "stain '\(s.name)' must have finite, non-negative OD components that are not all zero")
            }
        }
        var rows = normalize ? stains.map { $0.normalized() } : stains
        if rows.count == 2 {
            let a = rows[0], b = rows[1]
            var residual = StainVector(
                "Residual", a.g * b.b - a.b * b.g, a.b * b.r - a.r * b.b, a.r * b.g - a.g * b.r)
            if residualNormalized, residual.length > 1e-12 { residual = residual.normalized() }
            rows.append(residual)
        }
        let m = rows.map { [$0.r, $0.g, $0.b] }
        guard let inv = invert3x3(m) else {
            throw ImagingError(.invalidArgument, "the stain vectors are not linearly independent; choose distinct stains")
        }
        self.stains = rows
        self.inverse = inv
    }

    /// QuPath "H-DAB default": hematoxylin (0.65111, 0.70119, 0.29049), DAB (0.26917, 0.56824, 0.77759).
    public static let qupathHDAB = try! StainMatrix([
        StainVector("Hematoxylin", 0.65111, 0.70119, 0.29049),
        StainVector("DAB", 0.26917, 0.56824, 0.77759),
    ])

    /// QuPath "H&E default": hematoxylin (0.65111, 0.70119, 0.29049), eosin (0.2159, 0.8012, 0.5581).
    public static let qupathHE = try! StainMatrix([
        StainVector("Hematoxylin", 0.65111, 0.70119, 0.29049),
        StainVector("Eosin", 0.2159, 0.8012, 0.5581),
    ])

    /// scikit-image `rgb_from_hed` (hematoxylin, eosin, DAB; Ruifrok & Johnston's values, not normalised).
    public static let scikitImageHED = try! StainMatrix([
        StainVector("Hematoxylin", 0.65, 0.70, 0.29),
        StainVector("Eosin", 0.07, 0.99, 0.11),
        StainVector("DAB", 0.27, 0.57, 0.78),
    ], normalize: false)

    /// scikit-image `rgb_from_hdx` (hematoxylin, DAB, cross product; G. Landini's values, not normalised).
    public static let scikitImageHDX = try! StainMatrix([
        StainVector("Hematoxylin", 0.650, 0.704, 0.286),
        StainVector("DAB", 0.268, 0.570, 0.776),
    ], normalize: false, residualNormalized: false)

    /// Looks up a preset by name: `h-dab`, `h-e` (QuPath), `hed`, `hdx` (scikit-image).
    public static func named(_ name: String) -> StainMatrix? {
        switch name.lowercased() {
        case "h-dab", "hdab", "qupath-h-dab": qupathHDAB
        case "h-e", "he", "h&e", "qupath-h-e": qupathHE
        case "hed", "skimage-hed": scikitImageHED
        case "hdx", "skimage-hdx": scikitImageHDX
        default: nil
        }
    }

    public static let presetNames = ["h-dab", "h-e", "hed", "hdx"]
}

/// Inverse of a 3×3 matrix by the adjugate, or nil when it is singular.
func invert3x3(_ m: [[Double]]) -> [[Double]]? {
    let a = m[0][0], b = m[0][1], c = m[0][2]
    let d = m[1][0], e = m[1][1], f = m[1][2]
    let g = m[2][0], h = m[2][1], i = m[2][2]
    let co00 = e * i - f * h, co01 = -(d * i - f * g), co02 = d * h - e * g
    let det = a * co00 + b * co01 + c * co02
    guard abs(det) > 1e-12, det.isFinite else { return nil }
    let inv = 1 / det
    return [
        [co00 * inv, -(b * i - c * h) * inv, (b * f - c * e) * inv],
        [co01 * inv, (a * i - c * g) * inv, -(a * f - c * d) * inv],
        [co02 * inv, -(a * h - b * g) * inv, (a * e - b * d) * inv],
    ]
}
