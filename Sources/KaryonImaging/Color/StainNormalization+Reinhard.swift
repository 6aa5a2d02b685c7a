import Foundation

/// Per-channel mean and population standard deviation of an image in CIE L*a*b*: what Reinhard
/// normalisation matches.
///
/// Channels are L* (0…100), a*, b* (centred on 0), from sRGB with the D65 white as torchstain
/// 1.4.1's numpy `rgb2lab` computes them (see ``reinhardStatistics(_:mask:)``).
public struct ReinhardStatistics: Sendable, Equatable, Codable {
    /// Means of L*, a*, b*.
    public var means: [Double]
    /// Population standard deviations (NumPy's `np.std`, ddof 0) of L*, a*, b*.
    public var stds: [Double]

    /// - Throws: ``ImagingError`` unless there are three finite means and three finite, non-negative stds.
    public init(means: [Double], stds: [Double]) throws {
        self.means = means
        self.stds = stds
        try validate()
    }

    func validate() throws {
        guard means.count == 3, stds.count == 3, means.allSatisfy(\.isFinite),
              stds.allSatisfy({ $0.isFinite && $0 >= 0 })
        else {
            throw ImagingError(
                .invalidArgument,
                "Reinhard statistics need 3 finite means and 3 finite non-negative stds (L*, a*, b*), got means \(means), stds \(stds)")
        }
    }
}

/// Mean and standard deviation of each CIE L*a*b* channel of an image (Reinhard's colour statistics).
///
/// The conversion is torchstain 1.4.1's numpy `rgb2lab` followed by `lab_split`, which is
/// scikit-image's formula with OpenCV's sRGB→XYZ matrix: samples `v / 255`; linearised by
/// `((v + 0.055) / 1.055)^2.4` above 0.04045, else `v / 12.92`; XYZ by
/// `[[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]`;
/// divided by the D65 white (0.95047, 1, 1.08883); `f(t) = ∛t` above 0.008856, else
/// `7.787·t + 16/116`; `L* = 116·f(Y) − 16`, `a* = 500·(f(X) − f(Y))`, `b* = 200·(f(Y) − f(Z))`.
/// Reinhard et al. used Ruderman's lαβ space; torchstain, and so Karyon, use CIE L*a*b*.
/// torchstain computes in float32; Karyon in float64 (they agree to about 1e-5 relative).
///
/// Example: a uniform image has its own colour as means and zero stds.
///
/// - Parameters:
///   - image: 8-bit RGB, or RGBA with alpha ignored.
///   - mask: optional single-channel mask of the same size; only pixels where it is nonzero count.
/// - Returns: means and population stds of L*, a*, b*.
/// - Throws: ``ImagingError`` when the image is not RGB, the mask does not match or selects nothing.
/// - Complexity: O(pixels).
///
/// ## References
/// - E. Reinhard, M. Ashikhmin, B. Gooch, P. Shirley, "Color transfer between images", IEEE
///   Computer Graphics and Applications 21(5):34–41, 2001, doi:10.1109/38.946629.
/// - torchstain 1.4.1, `torchstain.numpy.normalizers.NumpyReinhardNormalizer.fit`.
public func reinhardStatistics(_ image: Image<UInt8>, mask: Image<UInt8>? = nil) throws -> ReinhardStatistics {
    let inside = try normalizationInputs(image, mask: mask, for: "Reinhard statistics")
    let lab = try labSamples(image, inside: inside)
    return try labStatistics(lab)
}

/// Maps an image's L*a*b* mean and standard deviation per channel onto a target's (Reinhard
/// colour transfer).
///
/// Per pixel and channel, `x ↦ (x − μ_source) / σ_source · σ_target + μ_target` in L*a*b* (see
/// ``reinhardStatistics(_:mask:)``), then back to sRGB by torchstain 1.4.1's numpy `lab2rgb`
/// (its inverse nonlinearity switches at 0.2068966, the sRGB gamma at 0.0031308), clipped to
/// 0…1, multiplied by 255 and truncated toward zero, as torchstain's `astype("uint8")` does.
/// Results agree with torchstain's `ReinhardNormalizer.normalize` within one grey level.
/// A source channel with zero spread is only shifted (`x − μ_source + μ_target`), where
/// torchstain would divide by zero.
///
/// With a mask, the source statistics come from the pixels inside it and only those pixels are
/// changed; pixels outside keep their values, as HistomicsTK's `reinhard(mask_out:)` does.
///
/// Example: normalising an image to its own statistics returns it within one grey level.
///
/// - Parameters:
///   - image: 8-bit RGB, or RGBA whose alpha is copied unchanged.
///   - target: the statistics to reproduce, e.g. ``reinhardStatistics(_:mask:)`` of a reference image.
///   - source: the image's statistics; computed from `image` (inside `mask`) when nil. Pass
///     statistics of a whole slide to normalise its tiles consistently.
///   - mask: optional single-channel mask of the same size (nonzero = tissue to normalise).
/// - Returns: an image of the same size and channel count.
/// - Throws: ``ImagingError`` when the image is not RGB, the mask does not match or selects nothing,
///   or the statistics are malformed.
/// - Complexity: O(pixels).
///
/// ## References
/// - E. Reinhard et al., IEEE CG&A 21(5):34–41, 2001, doi:10.1109/38.946629.
/// - torchstain 1.4.1, `torchstain.numpy.normalizers.NumpyReinhardNormalizer.normalize`.
/// - HistomicsTK `histomicstk.preprocessing.color_normalization.reinhard` (masked pixels kept).
public func normalizeReinhard(
    _ image: Image<UInt8>, target: ReinhardStatistics, source: ReinhardStatistics? = nil, mask: Image<UInt8>? = nil
) throws -> Image<UInt8> {
    let inside = try normalizationInputs(image, mask: mask, for: "Reinhard normalisation")
    try target.validate()
    try source?.validate()
    let lab = try labSamples(image, inside: inside)
    let stats = try source ?? labStatistics(lab)
    let c = image.channels
    let n = image.pixelCount
    var out = image.pixels
    let mu = stats.means, sigma = stats.stds, muT = target.means, sigmaT = target.stds
    out.withUnsafeMutableBufferPointer { dst in
        let d = SharedMutableBuffer(dst.baseAddress!)
        let l = UncheckedSendable(lab)
        // Index into `lab` of each pixel, or -1 outside the mask.
        let slots: [Int]? = inside.map { m in
            var next = 0
            return m.map { v in
                guard v != 0 else { return -1 }
                defer { next += 1 }
                return next
            }
        }
        let s = UncheckedSendable(slots)
        parallelChunks(n, minimumChunk: 4096) { range in
            for i in range {
                let slot = s.value?[i] ?? i
                if slot < 0 { continue }
                @inline(__always) func mapped(_ k: Int) -> Double {
                    let x = l.value[3 * slot + k]
                    return sigma[k] > 0 ? (x - mu[k]) / sigma[k] * sigmaT[k] + muT[k] : x - mu[k] + muT[k]
                }
                let rgb = CIELab.toSRGB(mapped(0), mapped(1), mapped(2))
                d[i * c] = rgb.0
                d[i * c + 1] = rgb.1
                d[i * c + 2] = rgb.2
            }
        }
    }
    return try Image(width: image.width, height: image.height, channels: c, pixels: out)
}

/// L*, a*, b* of every pixel inside `inside` (all pixels when nil), interleaved.
func labSamples(_ image: Image<UInt8>, inside: [UInt8]?) throws -> [Double] {
    let px = image.pixels
    let c = image.channels
    var lab: [Double] = []
    lab.reserveCapacity(3 * image.pixelCount)
    for i in 0..<image.pixelCount where (inside?[i] ?? 1) != 0 {
        let v = CIELab.fromSRGB(px[i * c], px[i * c + 1], px[i * c + 2])
        lab.append(v.0)
        lab.append(v.1)
        lab.append(v.2)
    }
    guard !lab.isEmpty else {
        throw ImagingError(.emptyInput, "the mask selects no pixels; mark the tissue to normalise with nonzero values")
    }
    return lab
}

/// Mean and population std (two passes, as NumPy's `np.std`) of each of three interleaved channels.
func labStatistics(_ lab: [Double]) throws -> ReinhardStatistics {
    let m = lab.count / 3
    var means = [0.0, 0.0, 0.0], squares = [0.0, 0.0, 0.0]
    for i in 0..<m { for k in 0..<3 { means[k] += lab[3 * i + k] } }
    means = means.map { $0 / Double(m) }
    for i in 0..<m {
        for k in 0..<3 {
            let d = lab[3 * i + k] - means[k]
            squares[k] += d * d
        }
    }
    return try ReinhardStatistics(means: means, stds: squares.map { ($0 / Double(m)).squareRoot() })
}

/// sRGB ⇄ CIE L*a*b* (D65) with torchstain 1.4.1's constants.
enum CIELab {
    static let rgbToXYZ: [[Double]] = [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
    static let xyzToRGB: [[Double]] = invert3x3(rgbToXYZ)!
    static let white = (0.95047, 1.0, 1.08883)

    /// Linear-light value of each 8-bit sample.
    static let linear: [Double] = (0...255).map { i in
        let v = Double(i) / 255
        return v > 0.04045 ? pow((v + 0.055) / 1.055, 2.4) : v / 12.92
    }

    static func fromSRGB(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> (Double, Double, Double) {
        let lr = linear[Int(r)], lg = linear[Int(g)], lb = linear[Int(b)]
        let m = rgbToXYZ
        let x = (m[0][0] * lr + m[0][1] * lg + m[0][2] * lb) / white.0
        let y = (m[1][0] * lr + m[1][1] * lg + m[1][2] * lb) / white.1
        let z = (m[2][0] * lr + m[2][1] * lg + m[2][2] * lb) / white.2
        @inline(__always) func f(_ t: Double) -> Double { t > 0.008856 ? cbrt(t) : 7.787 * t + 16.0 / 116.0 }
        let fx = f(x), fy = f(y), fz = f(z)
        return (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))
    }

    static func toSRGB(_ l: Double, _ a: Double, _ b: Double) -> (UInt8, UInt8, UInt8) {
        let fy = (l + 16) / 116
        let fx = a / 500 + fy
        let fz = fy - b / 200
        @inline(__always) func finv(_ t: Double) -> Double { t > 0.2068966 ? pow(t, 3) : (t - 16.0 / 116.0) / 7.787 }
        let x = finv(fx) * white.0, y = finv(fy) * white.1, z = finv(fz) * white.2
        let m = xyzToRGB
        @inline(__always) func encode(_ t: Double) -> UInt8 {
            let v = t > 0.0031308 ? 1.055 * pow(t, 1 / 2.4) - 0.055 : t * 12.92
            let clipped = v.isNaN ? 0 : min(1, max(0, v))
            return UInt8(clipped * 255)
        }
        return (encode(m[0][0] * x + m[0][1] * y + m[0][2] * z),
                encode(m[1][0] * x + m[1][1] * y + m[1][2] * z),
                encode(m[2][0] * x + m[2][1] * y + m[2][2] * z))
    }
}
