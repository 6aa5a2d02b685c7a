import KaryonImaging

/// Normalised local binary pattern histogram, with codes bit-identical to scikit-image 0.26
/// `local_binary_pattern(image, P, R, method)` (see ``LocalBinaryPattern``).
///
/// The grey image is the gray channel as stored (8-bit, 16-bit or float) or, for RGB(A), the
/// 8-bit luminance `img_as_ubyte(rgb2gray(image))`. Every pixel inside the mask (the whole image
/// without one) contributes its code; with `border = zero` (scikit-image) samples falling outside
/// the image read 0, with `border = exclude` only pixels whose whole circle lies inside count.
///
/// Columns `code_<k>` for every code the method can produce (`uniform`: 0 … P + 1, P + 1 being
/// "not uniform"; `nri-uniform`: 0 … P(P − 1) + 2; `ror`: the minimal rotations; `default`:
/// 0 … 2ᴾ − 1), each the fraction of counted pixels with that code, so the row sums to 1.
public struct LBPExtractor: Extractor {
    public static let descriptor = ExtractorDescriptor(
        id: "lbp",
        version: "1.0.0",
        summary: "Local binary pattern histogram (default, ror, uniform, nri-uniform), normalised",
        references: [
            "T. Ojala, M. Pietikäinen, T. Mäenpää, Multiresolution gray-scale and rotation invariant texture classification with local binary patterns, IEEE TPAMI 24(7):971–987 (2002), doi:10.1109/TPAMI.2002.1017623",
            "T. Ahonen, A. Hadid, M. Pietikäinen, Face description with local binary patterns, IEEE TPAMI 28(12):2037–2041 (2006), doi:10.1109/TPAMI.2006.244",
            "scikit-image 0.26 skimage.feature.local_binary_pattern",
        ],
        parameters: [
            ParameterSpec("points", .integer, default: .integer(8), minimum: 1, maximum: 31,
                          help: "P, samples on the circle (default ≤ 12 and ror ≤ 16, so the histogram stays small)"),
            ParameterSpec("radius", .number, default: .number(1), minimum: 0.01, maximum: 64, unit: "px",
                          help: "R, circle radius"),
            ParameterSpec("method", .choice(LBPMethod.allCases.map(\.rawValue)), default: .text("uniform"),
                          help: "default: 2^P codes; ror: rotation invariant; uniform: P+2 rotation-invariant codes; nri-uniform: P(P-1)+3 codes"),
            ParameterSpec("border", .choice(["zero", "exclude"]), default: .text("zero"),
                          help: "zero: count every pixel, samples outside read 0 (scikit-image); exclude: only pixels whose circle lies inside"),
        ],
        determinism: .bitExact)

    let lbp: LocalBinaryPattern
    let excludeBorder: Bool
    let codes: [Int]

    public init(parameters: ParameterSet) throws {
        let points = parameters.integer("points")
        let method = LBPMethod(rawValue: parameters.text("method"))!
        if method == .default && points > 12 {
            throw ExtractorError(.invalidParameter, "lbp: method default with \(points) points would make 2^\(points) columns; use at most 12 points, or ror/uniform/nri-uniform")
        }
        if method == .ror && points > 16 {
            throw ExtractorError(.invalidParameter, "lbp: method ror supports at most 16 points; use uniform or nri-uniform for more")
        }
        do {
            lbp = try LocalBinaryPattern(points: points, radius: parameters.number("radius"), method: method)
        } catch let e as ImagingError {
            throw ExtractorError(.invalidParameter, "lbp: \(e.message)")
        }
        excludeBorder = parameters.text("border") == "exclude"
        codes = lbp.possibleCodes
    }

    public func columns(for layout: InputLayout) -> [FeatureColumn] {
        codes.map { FeatureColumn("code_\($0)", help: "fraction of pixels with \(lbp.method.rawValue) code \($0) (P=\(lbp.points), R=\(lbp.radius))") }
    }

    public func extract(_ input: ExtractionInput) throws -> FeatureVector {
        let gray = try GreyLevels.gray(input.image, extractor: "lbp")
        _ = try input.maskSamples("lbp")
        let counts: [UInt64]
        do {
            counts = try gray.visit(Histogram(lbp: lbp, mask: input.mask, excludeBorder: excludeBorder))
        } catch let e as ImagingError {
            throw ExtractorError(.invalidInput, "lbp: \(e.message)")
        }
        let total = counts.reduce(0, +)
        guard total > 0 else {
            throw ExtractorError(
                .invalidInput,
                "lbp: no pixel to count: with border=exclude the \(input.image.width)×\(input.image.height) image (or its mask) has no pixel at least \(Int(lbp.radius.rounded(.up))) px from every edge; use border=zero or a smaller radius")
        }
        var out = FeatureVector()
        for k in codes { out.append("code_\(k)", Double(counts[k]) / Double(total)) }
        return out
    }

    struct Histogram: ImageVisitor {
        let lbp: LocalBinaryPattern
        let mask: Image<UInt8>?
        let excludeBorder: Bool
        func visit<P: PixelComponent>(_ image: Image<P>) throws -> [UInt64] {
            try lbp.histogram(image, mask: mask, excludeBorder: excludeBorder)
        }
    }
}
