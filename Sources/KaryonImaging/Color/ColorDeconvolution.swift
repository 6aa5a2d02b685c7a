import Foundation

/// How RGB intensities become optical density, which fixes the units of every stain threshold.
public enum ODConvention: Sendable, Equatable {
    /// QuPath: `OD_c = max(0, −log10(max(I_c, 1) / I0_c))` with `I0` the background (white) per
    /// channel in the image's native units (255 for 8-bit unless estimated); stain amounts are
    /// `OD · M⁻¹` and may be negative. Karyon's thresholds are in these units.
    case qupath(background: RGBBackground = .white)
    /// scikit-image ≥ 0.19 `separate_stains`: `rgb` normalised to `0...1` and clipped to ≥ 1e-6;
    /// `stains = max(0, (ln rgb / ln 1e-6) · M⁻¹)`. About QuPath's OD divided by 6 for 8-bit input.
    case scikitImage
}

/// The intensity of unstained glass per channel, in the image's native units, or the type's
/// maximum when ``white``.
public struct RGBBackground: Sendable, Equatable {
    public var r: Double?
    public var g: Double?
    public var b: Double?

    public init(r: Double, g: Double, b: Double) {
        self.r = r
        self.g = g
        self.b = b
    }

    private init() {}

    /// The sample type's maximum (255 for 8-bit, 65535 for 16-bit, 1 for float).
    public static let white = RGBBackground()

    func values(nominalMax: Double) -> [Double] { [r ?? nominalMax, g ?? nominalMax, b ?? nominalMax] }
}

/// Optical density per channel in QuPath's convention: `max(0, −log10(max(I, 1) / I0))`.
///
/// - Parameters:
///   - image: RGB or RGBA (alpha ignored), any sample type.
///   - background: I0 per channel in native units.
/// - Returns: a 3-channel `Float` image of OD values (log10 units).
/// - Throws: ``ImagingError`` when the image is not RGB or a background value is not positive.
/// - Complexity: O(pixels); integer inputs use a lookup table per channel.
@_specialize(exported: true, where P == UInt8)
@_specialize(exported: true, where P == UInt16)
public func opticalDensity<P: PixelComponent>(_ image: Image<P>, background: RGBBackground = .white) throws -> Image<Float> {
    try requireRGB(image, for: "optical density")
    let luts = try odTables(P.self, background: background)
    let n = image.pixelCount
    let c = image.channels
    let out = image.withUnsafeSamples { src in
        [Float](unsafeUninitializedCapacity: n * 3) { dst, count in
            let d = SharedMutableBuffer(dst.baseAddress!)
            let s = UncheckedSendable(src)
            parallelChunks(n, minimumChunk: 4096) { range in
                for i in range {
                    for k in 0..<3 { d[i * 3 + k] = Float(luts.od(s.value[i * c + k], channel: k)) }
                }
            }
            count = n * 3
        }
    }
    return Image(unchecked: image.width, image.height, 3, out)
}

/// Separates an RGB brightfield image into stain amounts (colour deconvolution).
///
/// Channel *k* of the result is stain *k* of `matrix` (for ``StainMatrix/qupathHDAB``:
/// hematoxylin, DAB, residual). In the ``ODConvention/qupath(background:)`` convention the values
/// are OD in log10 units and may be negative; in ``ODConvention/scikitImage`` they equal
/// `skimage.color.separate_stains(rgb, inv(M))`.
///
/// Example (QuPath convention, H-DAB, a pure-white pixel): every stain is 0.
///
/// - Parameters:
///   - image: 3 (RGB) or 4 (RGBA, alpha ignored) channels.
///   - matrix: the stain vectors; see ``StainMatrix``.
///   - convention: how intensities become OD.
/// - Returns: a 3-channel `Float` image of stain amounts.
/// - Throws: ``ImagingError`` when the image is not RGB.
/// - Complexity: O(pixels).
///
/// ## References
/// - A. C. Ruifrok, D. A. Johnston, Anal. Quant. Cytol. Histol. 23(4):291–299, 2001.
/// - scikit-image 0.26 `skimage.color.separate_stains`; QuPath `ColorTransformer`.
@_specialize(exported: true, where P == UInt8)
@_specialize(exported: true, where P == UInt16)
public func deconvolveStains<P: PixelComponent>(
    _ image: Image<P>, matrix: StainMatrix, convention: ODConvention = .qupath()
) throws -> Image<Float> {
    try requireRGB(image, for: "colour deconvolution")
    let luts: ODTables
    var clipAtZero = false
    switch convention {
    case .qupath(let background):
        luts = try odTables(P.self, background: background)
    case .scikitImage:
        luts = ODTables.scikitImage(P.self)
        clipAtZero = true
    }
    let m = matrix.inverse.map { $0.map(Float.init) }
    let (m00, m01, m02) = (m[0][0], m[0][1], m[0][2])
    let (m10, m11, m12) = (m[1][0], m[1][1], m[1][2])
    let (m20, m21, m22) = (m[2][0], m[2][1], m[2][2])
    let n = image.pixelCount
    let c = image.channels
    let clip = clipAtZero
    // Integer samples: one flat table per channel (index = sample value), so the loop is three
    // loads and nine multiply-adds per pixel.
    let flat: [Float]? = luts.flatTable()
    let out = image.withUnsafeSamples { src in
        [Float](unsafeUninitializedCapacity: n * 3) { dst, count in
            let d = SharedMutableBuffer(dst.baseAddress!)
            let s = UncheckedSendable(src)
            let t = UncheckedSendable(flat)
            let stride = Int(P.nominalMax) + 1
            parallelChunks(n, minimumChunk: 4096) { range in
                @inline(__always) func store(_ i: Int, _ r: Float, _ g: Float, _ b: Float) {
                    var s0 = r * m00 + g * m10 + b * m20
                    var s1 = r * m01 + g * m11 + b * m21
                    var s2 = r * m02 + g * m12 + b * m22
                    if clip { s0 = max(0, s0); s1 = max(0, s1); s2 = max(0, s2) }
                    d[i * 3] = s0
                    d[i * 3 + 1] = s1
                    d[i * 3 + 2] = s2
                }
                if let table = t.value {
                    table.withUnsafeBufferPointer { tab in
                        for i in range {
                            let p = i * c
                            store(i, tab[Int(s.value[p].floatValue)], tab[stride + Int(s.value[p + 1].floatValue)],
                                  tab[2 * stride + Int(s.value[p + 2].floatValue)])
                        }
                    }
                } else {
                    for i in range {
                        let p = i * c
                        store(i, Float(luts.od(s.value[p], channel: 0)), Float(luts.od(s.value[p + 1], channel: 1)),
                              Float(luts.od(s.value[p + 2], channel: 2)))
                    }
                }
            }
            count = n * 3
        }
    }
    return Image(unchecked: image.width, image.height, 3, out)
}

/// Estimates the background (white) intensity per channel: the median of each channel over the
/// brightest 1% of pixels by luminance, so dust and stained tissue do not lower it. Use it as
/// QuPath's "Background" I0 when a field's glass is not pure white.
/// - Throws: ``ImagingError`` when the image is not RGB.
public func estimateBackground<P: PixelComponent>(_ image: Image<P>) throws -> RGBBackground {
    try requireRGB(image, for: "background estimation")
    let gray = rgbToGray(image).pixels
    let n = gray.count
    let keep = max(1, n / 100)
    let order = gray.indices.sorted { gray[$0] > gray[$1] }.prefix(keep)
    let rgb = image.contiguous()
    var values: [[Double]] = [[], [], []]
    rgb.withUnsafeSamples { s in
        for i in order {
            for k in 0..<3 { values[k].append(s[i * rgb.channels + k].doubleValue) }
        }
    }
    let medians = values.map { v -> Double in
        let sorted = v.sorted()
        let m = sorted.count
        return m % 2 == 1 ? sorted[m / 2] : (sorted[m / 2 - 1] + sorted[m / 2]) / 2
    }
    return RGBBackground(r: max(1, medians[0]), g: max(1, medians[1]), b: max(1, medians[2]))
}

func requireRGB<P>(_ image: Image<P>, for operation: String) throws {
    guard image.channels == 3 || image.channels == 4 else {
        throw ImagingError(
            .channelCount,
            "\(operation) needs an RGB image, got \(image.channels) channel(s); brightfield stains cannot be separated from gray")
    }
}

/// Per-channel OD lookup for integer samples, or direct evaluation for `Float`.
struct ODTables: Sendable {
    enum Kind: Sendable {
        case table([[Double]])
        case qupathFloat(i0: [Double])
        case scikitFloat
    }

    let kind: Kind

    @inline(__always)
    func od<P: PixelComponent>(_ v: P, channel: Int) -> Double {
        switch kind {
        case .table(let t):
            return t[channel][Int(v.doubleValue)]
        case .qupathFloat(let i0):
            // For float samples "1" of QuPath's max(I, 1) becomes one 8-bit step, 1/255.
            return max(0, -log10(max(v.doubleValue, 1.0 / 255.0) / i0[channel]))
        case .scikitFloat:
            return log(max(v.doubleValue, 1e-6)) / log(1e-6)
        }
    }

    /// The three channel tables concatenated, for integer samples; nil for float samples.
    func flatTable() -> [Float]? {
        if case .table(let t) = kind { return t.flatMap { $0.map(Float.init) } }
        return nil
    }

    static func scikitImage<P: PixelComponent>(_: P.Type) -> ODTables {
        guard P.sampleType != .float32 else { return ODTables(kind: .scikitFloat) }
        let maxV = Int(P.nominalMax)
        let denominator = log(1e-6)
        // Match scikit-image: the normalised value is computed in float64 as v / max.
        let t = (0...maxV).map { v in log(max(Double(v) / Double(maxV), 1e-6)) / denominator }
        return ODTables(kind: .table([t, t, t]))
    }
}

func odTables<P: PixelComponent>(_: P.Type, background: RGBBackground) throws -> ODTables {
    let i0 = background.values(nominalMax: P.nominalMax)
    guard i0.allSatisfy({ $0 > 0 && $0.isFinite }) else {
        throw ImagingError(.invalidArgument, "background intensities must be positive, got \(i0)")
    }
    guard P.sampleType != .float32 else { return ODTables(kind: .qupathFloat(i0: i0)) }
    let maxV = Int(P.nominalMax)
    let tables = i0.map { white in
        (0...maxV).map { v in max(0, -log10(max(Double(v), 1) / white)) }
    }
    return ODTables(kind: .table(tables))
}
