import KaryonImaging

/// The co-occurrence settings `glcm` and `haralick` share: which pixel pairs are counted, at how
/// many grey levels, and the names of per-direction columns.
struct CooccurrenceSettings: Sendable {
    let distances: [Int]
    let angles: [Double]
    let levels: Int
    let symmetric: Bool
    let quantize: Bool

    /// The shared part of the parameter schema; `symmetricDefault` is the extractor's usual choice.
    static func parameters(symmetricDefault: Bool = true) -> [ParameterSpec] {
        [
            ParameterSpec("distances", .integerList, default: .integerList([1]), minimum: 1, maximum: 4096, unit: "px",
                          help: "pixel-pair distances"),
            ParameterSpec("angles", .numberList, default: .numberList([0, 45, 90, 135]), minimum: 0, maximum: 360, unit: "degrees",
                          help: "pair directions; 0 = to the right, 90 = downward (scikit-image's convention)"),
            ParameterSpec("levels", .integer, default: .integer(256), minimum: 2, maximum: 65536,
                          help: "grey levels of the matrix"),
            ParameterSpec("symmetric", .boolean, default: .boolean(symmetricDefault), help: "count each pair in both orders (P + Pᵀ)"),
            ParameterSpec("quantize", .boolean, default: .boolean(true),
                          help: "rescale grey values to levels (8-bit: v·levels/256, 16-bit: v·levels/65536); off requires values < levels"),
        ]
    }

    /// - Throws: ``ExtractorError`` when a distance or angle repeats.
    init(_ parameters: ParameterSet, extractor: String) throws {
        distances = parameters.integers("distances")
        angles = parameters.numbers("angles")
        levels = parameters.integer("levels")
        symmetric = parameters.boolean("symmetric")
        quantize = parameters.boolean("quantize")
        guard Set(distances).count == distances.count, Set(angles).count == angles.count else {
            throw ExtractorError(.invalidParameter, "\(extractor): distances and angles must not repeat a value")
        }
    }

    /// Offsets in output order: every angle of the first distance, then of the next.
    var offsets: [PixelOffset] {
        distances.flatMap { d in angles.map { PixelOffset(distance: d, angleDegrees: $0) } }
    }

    static func angleName(_ a: Double) -> String {
        a == a.rounded() ? String(Int(a)) : String(a)
    }

    /// A per-distance summary over the angles, e.g. the mean.
    struct Summary: Sendable {
        let suffix: String
        let help: String
        let reduce: @Sendable ([Double]) -> Double

        static let mean = Summary(suffix: "mean", help: "mean over angles") { $0.reduce(0, +) / Double($0.count) }
        static let range = Summary(suffix: "range", help: "max − min over angles") { $0.max()! - $0.min()! }
    }

    /// For each name and distance: `<name>_d<d>_a<angle>` for every angle, then
    /// `<name>_d<d>_<summary>` for each summary.
    func columns(names: [String], summaries: [Summary]) -> [FeatureColumn] {
        var columns: [FeatureColumn] = []
        for name in names {
            for d in distances {
                for a in angles {
                    let angle = Self.angleName(a)
                    columns.append(FeatureColumn("\(name)_d\(d)_a\(angle)", help: "\(name), distance \(d) px, angle \(angle)°"))
                }
                for s in summaries {
                    columns.append(FeatureColumn("\(name)_d\(d)_\(s.suffix)", help: "\(name), distance \(d) px, \(s.help)"))
                }
            }
        }
        return columns
    }

    /// The values for ``columns(names:summaries:)``, in its order; `value(nameIndex, offsetIndex)`
    /// reads one name at one offset of ``offsets``.
    func features(names: [String], summaries: [Summary], value: (Int, Int) -> Double) -> FeatureVector {
        var out = FeatureVector()
        for (n, name) in names.enumerated() {
            for (di, d) in distances.enumerated() {
                let values = angles.indices.map { value(n, di * angles.count + $0) }
                for (a, v) in zip(angles, values) { out.append("\(name)_d\(d)_a\(Self.angleName(a))", v) }
                for s in summaries { out.append("\(name)_d\(d)_\(s.suffix)", s.reduce(values)) }
            }
        }
        return out
    }

    /// Grey levels and mask samples of an input, checked.
    /// - Throws: ``ExtractorError`` for an image without a pixel pair, values ≥ levels without
    ///   quantisation, or a bad mask.
    func prepare(_ input: ExtractionInput, extractor: String) throws -> (values: GreyLevelValues, mask: [UInt8]?) {
        let image = input.image
        guard image.width >= 2 || image.height >= 2 else {
            throw ExtractorError(.invalidInput, "\(extractor) needs an image with at least two pixels in a row or column, got \(image.width)×\(image.height)")
        }
        let values = try GreyLevels.quantized(image, levels: levels, quantize: quantize, extractor: extractor)
        return (values, try input.maskSamples(extractor))
    }
}
