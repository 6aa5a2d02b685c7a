import Foundation
import KaryonImaging

/// Colour distribution features for retrieval: per-channel histograms and colour moments in RGB,
/// HSV and stain optical-density space.
///
/// - `rgb`: each channel (or the single gray channel) as `img_as_float` gives it (`v / max` of the
///   type, 0…1). Histogram bins split the type's values evenly (`v · bins / (max + 1)` for 8- and
///   16-bit, NumPy's `histogram(range=(0, 1))` rule for float images, which must lie in 0…1).
/// - `hsv`: scikit-image's `rgb2hsv` (hue in turns, 0…1, treated linearly as Stricker & Orengo
///   do); bins over 0…1 by NumPy's rule. Needs RGB.
/// - `stain`: colour deconvolution with the chosen preset in QuPath's OD convention (log10,
///   white background); moments of each stain's amount; histogram over 0…`stain_od_max`, with
///   amounts below 0 or above the maximum counted in the first or last bin. Needs RGB.
///
/// Moments: mean, standard deviation (population, ddof 0) and skewness: `standardized` is
/// m₃/m₂^{3/2} (`scipy.stats.skew(bias=True)`, 0 for a constant channel), `cube-root` is
/// ∛m₃ (Stricker & Orengo). Histograms are fractions of the counted pixels (they sum to 1).
/// With a mask only its pixels count. Everything is computed in float64 (scikit-image computes
/// `rgb2hsv` of a float32 image in float32, so float32 input may differ from it by ~1e-7).
///
/// Columns per channel: `<channel>_mean`, `<channel>_std`, `<channel>_skewness`, then
/// `<channel>_hist_<k>` for k = 0 … bins − 1. Channels: `red green blue` (or `gray`), `hue
/// saturation value`, and the stain names in lower case (`hematoxylin dab residual` for h-dab).
public struct ColorExtractor: Extractor {
    public static let descriptor = ExtractorDescriptor(
        id: "color",
        version: "1.0.0",
        summary: "Colour histograms and colour moments (mean, std, skewness) in RGB, HSV and stain OD space",
        references: [
            "M. Stricker, M. Orengo, Similarity of color images, Proc. SPIE 2420, Storage and Retrieval for Image and Video Databases III (1995), doi:10.1117/12.205308",
            "M. J. Swain, D. H. Ballard, Color indexing, Int. J. Computer Vision 7(1):11–32 (1991), doi:10.1007/BF00130487",
            "A. C. Ruifrok, D. A. Johnston, Quantification of histochemical staining by color deconvolution, Anal. Quant. Cytol. Histol. 23(4):291–299 (2001)",
            "scikit-image 0.26 skimage.color.rgb2hsv; SciPy 1.17 scipy.stats.skew",
        ],
        parameters: [
            ParameterSpec("spaces", .choiceList(["rgb", "hsv", "stain"]), default: .textList(["rgb", "hsv"]),
                          help: "colour spaces to describe (hsv and stain need RGB input)"),
            ParameterSpec("bins", .integer, default: .integer(16), minimum: 1, maximum: 256,
                          help: "histogram bins per channel"),
            ParameterSpec("stain", .choice(StainMatrix.presetNames), default: .text("h-dab"),
                          help: "stain preset for the stain space: h-dab, h-e (QuPath), hed, hdx (scikit-image vectors)"),
            ParameterSpec("stain_od_max", .number, default: .number(3), minimum: 0.01, maximum: 10, unit: "OD",
                          help: "upper end of the stain histograms (amounts are clipped into 0…max)"),
            ParameterSpec("skewness", .choice(["standardized", "cube-root"]), default: .text("standardized"),
                          help: "standardized: m3/m2^1.5 (scipy.stats.skew); cube-root: ∛m3 (Stricker & Orengo)"),
        ],
        determinism: .bitExact)

    let spaces: Set<String>
    let bins: Int
    let stain: StainMatrix
    let odMax: Double
    let cubeRootSkewness: Bool

    public init(parameters: ParameterSet) throws {
        spaces = Set(parameters.texts("spaces"))
        guard !spaces.isEmpty else {
            throw ExtractorError(.invalidParameter, "color: choose at least one of rgb, hsv, stain")
        }
        bins = parameters.integer("bins")
        stain = StainMatrix.named(parameters.text("stain"))!
        odMax = parameters.number("stain_od_max")
        cubeRootSkewness = parameters.text("skewness") == "cube-root"
    }

    /// Channel names in output order for an input layout.
    func channelNames(colorChannels: Int) -> [String] {
        var names: [String] = []
        if spaces.contains("rgb") { names += colorChannels == 1 ? ["gray"] : ["red", "green", "blue"] }
        if spaces.contains("hsv") { names += ["hue", "saturation", "value"] }
        if spaces.contains("stain") { names += stain.stains.map { $0.name.lowercased() } + (stain.stains.count == 2 ? ["residual"] : []) }
        return names
    }

    public func columns(for layout: InputLayout) -> [FeatureColumn] {
        channelNames(colorChannels: layout.colorChannels).flatMap { c in
            [FeatureColumn("\(c)_mean", help: "\(c): mean"),
             FeatureColumn("\(c)_std", help: "\(c): standard deviation"),
             FeatureColumn("\(c)_skewness", help: "\(c): skewness (\(cubeRootSkewness ? "cube root of m3" : "m3/m2^1.5"))")]
                + (0..<bins).map { FeatureColumn("\(c)_hist_\($0)", help: "\(c): fraction of pixels in bin \($0) of \(bins)") }
        }
    }

    public func extract(_ input: ExtractionInput) throws -> FeatureVector {
        let image = input.image
        if image.colorChannels == 1 && (spaces.contains("hsv") || spaces.contains("stain")) {
            throw ExtractorError(.invalidInput, "color: the hsv and stain spaces need an RGB image; this one is gray (use spaces=rgb)")
        }
        let mask = try input.maskSamples("color")
        let planes = try image.visit(Planes(extractor: self, mask: mask))
        var out = FeatureVector()
        for (name, plane) in zip(channelNames(colorChannels: image.colorChannels), planes) {
            let m = moments(plane.values)
            out.append("\(name)_mean", m.mean)
            out.append("\(name)_std", m.std)
            out.append("\(name)_skewness", m.skewness)
            let total = Double(plane.values.count)
            for (k, c) in plane.histogram.enumerated() { out.append("\(name)_hist_\(k)", Double(c) / total) }
        }
        return out
    }

    /// Mean, population standard deviation and skewness, two-pass in float64.
    func moments(_ x: [Double]) -> (mean: Double, std: Double, skewness: Double) {
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        var m2 = 0.0, m3 = 0.0
        for v in x {
            let d = v - mean
            m2 += d * d
            m3 += d * d * d
        }
        m2 /= n
        m3 /= n
        let skew: Double
        if cubeRootSkewness {
            skew = cbrt(m3)
        } else {
            // SciPy's test for a constant sample: m₂ ≤ (10·resolution·mean)², resolution = 1e-15.
            skew = m2 <= (1e-14 * mean) * (1e-14 * mean) || m2 == 0 ? 0 : m3 / (m2 * m2.squareRoot())
        }
        return (mean, m2.squareRoot(), skew)
    }

    /// One channel's counted values and histogram counts.
    struct Plane {
        var values: [Double] = []
        var histogram: [Int]
    }

    /// Builds every requested channel's plane (masked pixels only) from a typed image.
    struct Planes: ImageVisitor {
        let extractor: ColorExtractor
        let mask: [UInt8]?

        func visit<P: PixelComponent>(_ image: Image<P>) throws -> [Plane] {
            let e = extractor, bins = e.bins
            let samples = image.contiguous().pixels, c = image.channels, colours = image.colorChannels
            let isFloat = P.sampleType == .float32
            let scale = 1.0 / P.nominalMax
            let unit = try UniformBins(count: bins, lower: 0, upper: 1)
            let selected = (0..<image.pixelCount).filter { mask?[$0] ?? 1 != 0 }
            if isFloat {
                for v in samples where !(v.doubleValue >= 0 && v.doubleValue <= 1) {
                    throw ExtractorError(.invalidInput, "color: float images must lie in 0…1 (found \(v.doubleValue)); rescale first")
                }
            }
            /// `img_as_float` of sample s of pixel p: v·(1/max) for integers, the value for float.
            @inline(__always) func unitValue(_ p: Int, _ s: Int) -> Double {
                let v = samples[p * c + s].doubleValue
                return isFloat ? v : v * scale
            }
            var planes: [Plane] = []
            if e.spaces.contains("rgb") {
                for s in 0..<colours {
                    var plane = Plane(histogram: [Int](repeating: 0, count: bins))
                    plane.values.reserveCapacity(selected.count)
                    let levels = P.nominalMax + 1
                    for p in selected {
                        plane.values.append(unitValue(p, s))
                        let bin = isFloat ? unit.index(of: samples[p * c + s].doubleValue)!
                                          : Int(samples[p * c + s].doubleValue * Double(bins) / levels)
                        plane.histogram[bin] += 1
                    }
                    planes.append(plane)
                }
            }
            if e.spaces.contains("hsv") {
                var hsv = [Plane](repeating: Plane(histogram: [Int](repeating: 0, count: bins)), count: 3)
                for k in 0..<3 { hsv[k].values.reserveCapacity(selected.count) }
                for p in selected {
                    let (h, s, v) = HSV.fromRGB(unitValue(p, 0), unitValue(p, 1), unitValue(p, 2))
                    for (k, x) in [h, s, v].enumerated() {
                        hsv[k].values.append(x)
                        hsv[k].histogram[unit.index(of: x)!] += 1
                    }
                }
                planes += hsv
            }
            if e.spaces.contains("stain") {
                let amounts = try deconvolveStains(image, matrix: e.stain, convention: .qupath()).pixels
                let od = try UniformBins(count: bins, lower: 0, upper: e.odMax)
                for k in 0..<3 {
                    var plane = Plane(histogram: [Int](repeating: 0, count: bins))
                    plane.values.reserveCapacity(selected.count)
                    for p in selected {
                        let x = Double(amounts[p * 3 + k])
                        plane.values.append(x)
                        plane.histogram[od.index(of: min(max(x, 0), e.odMax))!] += 1
                    }
                    planes.append(plane)
                }
            }
            return planes
        }
    }
}
