import Foundation

/// Two stains' optical-density vectors and their robust maximum amounts in one image: what
/// Macenko normalisation estimates from a source and maps onto a target.
///
/// `stains` holds the hematoxylin vector first, then the second stain (eosin for H&E, DAB for
/// H-DAB), then their normalised cross product as the residual, so the matrix can also be passed
/// to ``deconvolveStains(_:matrix:convention:)``. Vectors are in natural-log OD units per unit
/// concentration (only their direction matters to deconvolution). `maxConcentrations` are the
/// 99th percentiles of the two stains' amounts over the image.
///
/// ## References
/// - M. Macenko et al., "A method for normalizing histology slides for quantitative analysis",
///   ISBI 2009, pp. 1107–1110, doi:10.1109/ISBI.2009.5193250.
public struct MacenkoEstimate: Sendable, Equatable, CustomStringConvertible {
    /// Hematoxylin, second stain, residual (rows = stains, columns = R, G, B).
    public let stains: StainMatrix
    /// 99th-percentile amounts of hematoxylin and of the second stain.
    public let maxConcentrations: (Double, Double)

    /// - Parameters:
    ///   - stains: rows 0 and 1 are used (hematoxylin, second stain); row 2 is ignored.
    ///   - maxConcentrations: the stains' reference maximum amounts; both must be positive.
    /// - Throws: ``ImagingError`` when a maximum is not positive and finite.
    public init(stains: StainMatrix, maxConcentrations: (Double, Double)) throws {
        let (h, e) = maxConcentrations
        guard h.isFinite, e.isFinite, h > 0, e > 0 else {
            throw ImagingError(
                .invalidArgument,
                "maximum stain concentrations must be positive and finite, got (\(h), \(e)); estimate them from a stained image")
        }
        self.stains = stains
        self.maxConcentrations = maxConcentrations
    }

    /// The default target of Macenko's reference code and torchstain 1.4.1 (`HERef`, `maxCRef`):
    /// hematoxylin (0.5626, 0.7201, 0.4062), eosin (0.2159, 0.8012, 0.5581), maxima (1.9705, 1.0308).
    /// The vectors are used exactly as given (their lengths are 1 ± 1e-4).
    public static let reference = try! MacenkoEstimate(
        stains: StainMatrix([
            StainVector("Hematoxylin", 0.5626, 0.7201, 0.4062),
            StainVector("Eosin", 0.2159, 0.8012, 0.5581),
        ], normalize: false),
        maxConcentrations: (1.9705, 1.0308))

    public static func == (lhs: MacenkoEstimate, rhs: MacenkoEstimate) -> Bool {
        lhs.stains == rhs.stains && lhs.maxConcentrations == rhs.maxConcentrations
    }

    public var description: String {
        let f = { (v: StainVector) in "(\(v.r), \(v.g), \(v.b))" }
        return "Macenko: \(stains.stains[0].name) \(f(stains.stains[0])), \(stains.stains[1].name) \(f(stains.stains[1])), "
            + "max concentrations \(maxConcentrations)"
    }
}

/// Fewest tissue pixels (every OD channel ≥ beta) ``estimateStainsMacenko(_:mask:background:alpha:beta:)`` accepts.
let macenkoMinimumTissuePixels = 10

/// Estimates an image's two stain vectors and their maximum amounts by Macenko's method.
///
/// The steps and conventions are torchstain 1.4.1's numpy `MacenkoNormalizer.fit`:
/// 1. OD per pixel and channel in natural log, `OD = −ln((I + 1) / background)` (negative for
///    samples brighter than `background − 1`);
/// 2. tissue pixels: those with every OD channel ≥ `beta`;
/// 3. eigenvectors of the tissue pixels' OD covariance; each pixel projected onto the plane of the
///    two with the largest eigenvalues, coordinates (second, largest), angle `atan2(largest, second)`;
/// 4. the `alpha`-th and `(100 − alpha)`-th percentiles of the angles (NumPy's linear
///    interpolation) give two unit vectors in that plane; hematoxylin is the one with the larger red
///    component, as torchstain and HistomicsTK order them;
/// 5. every pixel's amounts by least squares against the two vectors (the 3×2 normal equations in
///    closed form, which equal `np.linalg.lstsq` for independent vectors), and each stain's 99th
///    percentile over all pixels, glass included.
///
/// Eigenvector signs are arbitrary (LAPACK's choice in NumPy). Here the principal eigenvector is
/// oriented so the tissue's mean OD projects positively onto it, and the second so that its
/// largest-magnitude component is positive. Flipping either mirrors every angle, which swaps the
/// `alpha` and `100 − alpha` percentiles but yields the same two vectors, so the result agrees with
/// torchstain whatever signs LAPACK returned — unless the angles straddle ±π, which needs tissue OD
/// projecting negatively onto the principal axis and does not happen with OD ≥ `beta` in practice.
///
/// Example: on a 128×128 crop of scikit-image's immunohistochemistry image the vectors match
/// torchstain to 1e-14 (see `Tests/Fixtures/normalization`), although NumPy's principal eigenvector
/// there points away from the tissue's OD and Karyon's towards it.
///
/// - Parameters:
///   - image: 8-bit RGB, or RGBA with alpha ignored; (0, 0) is the top-left pixel.
///   - mask: optional single-channel mask of the same size; only pixels where it is nonzero are used,
///     for the tissue selection and for the concentration percentiles.
///   - background: I₀, the glass brightness in 8-bit units (torchstain's `Io`, default 240).
///   - alpha: percentile (0 ≤ alpha < 50) cut from each end of the angle distribution, default 1.
///   - beta: OD threshold in natural-log units below which a channel counts as transparent, default 0.15.
/// - Returns: the stain matrix (hematoxylin, second stain, normalised cross product) and the 99th
///   percentile amounts.
/// - Throws: ``ImagingError`` when the image is not RGB, the mask does not match, a parameter is out
///   of range, fewer than 10 pixels are tissue (bare glass, or `background`/`beta` too strict), or the
///   tissue holds only one colour so two stains cannot be told apart.
/// - Complexity: O(pixels) expected time (the percentiles use selection), O(pixels) memory.
///
/// ## References
/// - M. Macenko et al., "A method for normalizing histology slides for quantitative analysis",
///   ISBI 2009, pp. 1107–1110, doi:10.1109/ISBI.2009.5193250.
/// - torchstain 1.4.1, `torchstain.numpy.normalizers.NumpyMacenkoNormalizer`.
public func estimateStainsMacenko(
    _ image: Image<UInt8>, mask: Image<UInt8>? = nil, background: Double = 240, alpha: Double = 1, beta: Double = 0.15
) throws -> MacenkoEstimate {
    let inside = try normalizationInputs(image, mask: mask, for: "Macenko stain estimation")
    try checkMacenkoParameters(background: background, alpha: alpha, beta: beta)
    let table = macenkoODTable(background)
    let px = image.pixels
    let c = image.channels
    let n = image.pixelCount
    let used = inside.map { m in m.lazy.filter { $0 != 0 }.count } ?? n

    // Tissue pixels' OD, interleaved.
    var tissue: [Double] = []
    tissue.reserveCapacity(3 * used)
    for i in 0..<n where (inside?[i] ?? 1) != 0 {
        let r = table[Int(px[i * c])], g = table[Int(px[i * c + 1])], b = table[Int(px[i * c + 2])]
        if r >= beta && g >= beta && b >= beta {
            tissue.append(r)
            tissue.append(g)
            tissue.append(b)
        }
    }
    let m = tissue.count / 3
    guard m >= macenkoMinimumTissuePixels else {
        throw ImagingError(
            .emptyInput,
            "only \(m) of \(used) pixels have OD ≥ \(beta) in every channel (Macenko needs at least "
                + "\(macenkoMinimumTissuePixels)); the image looks like bare glass: pass a tile or mask with tissue, "
                + "or check that background (\(background)) is the glass brightness")
    }

    // Covariance (NumPy's np.cov scale, n − 1; the scale does not change the eigenvectors).
    var mean = [0.0, 0.0, 0.0]
    for i in 0..<m { for k in 0..<3 { mean[k] += tissue[3 * i + k] } }
    mean = mean.map { $0 / Double(m) }
    var cov = [[Double]](repeating: [0, 0, 0], count: 3)
    var sums = [Double](repeating: 0, count: 6)  // rr, rg, rb, gg, gb, bb
    for i in 0..<m {
        let r = tissue[3 * i] - mean[0], g = tissue[3 * i + 1] - mean[1], b = tissue[3 * i + 2] - mean[2]
        sums[0] += r * r; sums[1] += r * g; sums[2] += r * b
        sums[3] += g * g; sums[4] += g * b; sums[5] += b * b
    }
    cov[0] = [sums[0], sums[1], sums[2]]
    cov[1] = [sums[1], sums[3], sums[4]]
    cov[2] = [sums[2], sums[4], sums[5]]
    cov = cov.map { row in row.map { $0 / Double(m - 1) } }
    let eigen = symmetricEigen3(cov)
    // Sign convention (see the doc comment): principal axis towards the tissue's mean OD, second
    // axis with its largest-magnitude component positive.
    var principal = eigen.vectors[2], second = eigen.vectors[1]
    if dot3(principal, mean) < 0 { principal = principal.map { -$0 } }
    if let big = second.max(by: { abs($0) < abs($1) }), big < 0 { second = second.map { -$0 } }

    let (p0, p1, p2) = (principal[0], principal[1], principal[2])
    let (s0, s1, s2) = (second[0], second[1], second[2])
    var angles = [Double](repeating: 0, count: m)
    for i in 0..<m {
        let r = tissue[3 * i], g = tissue[3 * i + 1], b = tissue[3 * i + 2]
        angles[i] = atan2(r * p0 + g * p1 + b * p2, r * s0 + g * s1 + b * s2)
    }
    let low = numpyPercentile(&angles, alpha)
    let high = numpyPercentile(&angles, 100 - alpha)
    let vLow = (0..<3).map { second[$0] * cos(low) + principal[$0] * sin(low) }
    let vHigh = (0..<3).map { second[$0] * cos(high) + principal[$0] * sin(high) }
    let (h, e) = vLow[0] > vHigh[0] ? (vLow, vHigh) : (vHigh, vLow)
    let single = ImagingError(
        .invalidArgument,
        "the tissue pixels hold a single colour, so two stains cannot be told apart; estimate from a region showing both stains")
    guard let unmix = pseudoInverse(h, e) else { throw single }
    let stains: StainMatrix
    do {
        stains = try StainMatrix(
            [StainVector("Hematoxylin", h[0], h[1], h[2]), StainVector("Eosin", e[0], e[1], e[2])],
            normalize: false, residualNormalized: true, allowsNegative: true)
    } catch {
        throw single
    }

    // Amounts of every used pixel (glass included), then their 99th percentiles.
    var amountH = [Double](), amountE = [Double]()
    amountH.reserveCapacity(used)
    amountE.reserveCapacity(used)
    for i in 0..<n where (inside?[i] ?? 1) != 0 {
        let r = table[Int(px[i * c])], g = table[Int(px[i * c + 1])], b = table[Int(px[i * c + 2])]
        amountH.append(unmix[0] * r + unmix[1] * g + unmix[2] * b)
        amountE.append(unmix[3] * r + unmix[4] * g + unmix[5] * b)
    }
    let maxH = numpyPercentile(&amountH, 99), maxE = numpyPercentile(&amountE, 99)
    guard maxH > 0, maxE > 0 else {
        throw ImagingError(
            .emptyInput,
            "the stains' 99th-percentile amounts are (\(maxH), \(maxE)), not positive: too little tissue is stained; "
                + "pass a tile or mask with more tissue")
    }
    return try MacenkoEstimate(stains: stains, maxConcentrations: (maxH, maxE))
}

/// Re-renders an image with a target's stain vectors and maximum amounts (Macenko normalisation).
///
/// Per pixel: OD as in ``estimateStainsMacenko(_:mask:background:alpha:beta:)``; amounts by least
/// squares against `source`'s first two stains; each amount scaled by `target.max / source.max`;
/// then `I = background · exp(−(amount_H · target_H + amount_E · target_E))`, values above 255 set to
/// 255 and the rest truncated toward zero, as torchstain's `astype(np.uint8)` does. Against
/// torchstain 1.4.1 (`normalize` on an unfitted or fitted numpy `MacenkoNormalizer`) results agree
/// within one grey level.
///
/// - Parameters:
///   - image: 8-bit RGB, or RGBA whose alpha is copied unchanged.
///   - source: the image's own estimate; estimated from `image` (with `background`, `alpha`, `beta`)
///     when nil, as torchstain does. Pass one estimated from a larger region (a whole slide, or a
///     mask) to normalise its tiles consistently.
///   - target: the look to reproduce; default ``MacenkoEstimate/reference``.
///   - background: I₀ in 8-bit units, for the OD and for re-rendering (default 240).
///   - alpha, beta: as in ``estimateStainsMacenko(_:mask:background:alpha:beta:)``, used only when
///     `source` is nil.
/// - Returns: an image of the same size and channel count.
/// - Throws: ``ImagingError`` as ``estimateStainsMacenko(_:mask:background:alpha:beta:)`` does, or when
///   `source`'s stains are not independent.
/// - Complexity: O(pixels).
///
/// ## References
/// - M. Macenko et al., ISBI 2009, doi:10.1109/ISBI.2009.5193250.
/// - torchstain 1.4.1, `torchstain.numpy.normalizers.NumpyMacenkoNormalizer.normalize`.
public func normalizeMacenko(
    _ image: Image<UInt8>, source: MacenkoEstimate? = nil, target: MacenkoEstimate = .reference,
    background: Double = 240, alpha: Double = 1, beta: Double = 0.15
) throws -> Image<UInt8> {
    _ = try normalizationInputs(image, mask: nil, for: "Macenko normalisation")
    try checkMacenkoParameters(background: background, alpha: alpha, beta: beta)
    let estimate = try source ?? estimateStainsMacenko(image, background: background, alpha: alpha, beta: beta)
    let vectors = { (s: StainVector) in [s.r, s.g, s.b] }
    guard let unmix = pseudoInverse(vectors(estimate.stains.stains[0]), vectors(estimate.stains.stains[1])) else {
        throw ImagingError(.invalidArgument, "the source's two stain vectors are parallel; pass an estimate with two distinct stains")
    }
    // torchstain: maxC = maxC / maxCRef; C2 = C / maxC.
    let scaleH = estimate.maxConcentrations.0 / target.maxConcentrations.0
    let scaleE = estimate.maxConcentrations.1 / target.maxConcentrations.1
    let th = vectors(target.stains.stains[0]), te = vectors(target.stains.stains[1])
    let table = macenkoODTable(background)
    let c = image.channels
    let n = image.pixelCount
    let px = image.pixels
    let out = [UInt8](unsafeUninitializedCapacity: n * c) { dst, count in
        let d = SharedMutableBuffer(dst.baseAddress!)
        let s = UncheckedSendable(px)
        let t = UncheckedSendable(table)
        parallelChunks(n, minimumChunk: 4096) { range in
            for i in range {
                let p = i * c
                let r = t.value[Int(s.value[p])], g = t.value[Int(s.value[p + 1])], b = t.value[Int(s.value[p + 2])]
                let amountH = (unmix[0] * r + unmix[1] * g + unmix[2] * b) / scaleH
                let amountE = (unmix[3] * r + unmix[4] * g + unmix[5] * b) / scaleE
                for k in 0..<3 {
                    let v = background * exp(-(th[k] * amountH + te[k] * amountE))
                    d[p + k] = v.isNaN ? 0 : (v > 255 ? 255 : UInt8(v))
                }
                if c == 4 { d[p + 3] = s.value[p + 3] }
            }
        }
        count = n * c
    }
    return try Image(width: image.width, height: image.height, channels: c, pixels: out)
}

func checkMacenkoParameters(background: Double, alpha: Double, beta: Double) throws {
    guard background.isFinite, background > 0 else {
        throw ImagingError(.invalidArgument, "background must be a positive glass brightness in 8-bit units (e.g. 240), got \(background)")
    }
    guard alpha.isFinite, alpha >= 0, alpha < 50 else {
        throw ImagingError(.invalidArgument, "alpha must be a percentile in 0..<50 (default 1), got \(alpha)")
    }
    guard beta.isFinite, beta >= 0 else {
        throw ImagingError(.invalidArgument, "beta must be a non-negative OD threshold (default 0.15), got \(beta)")
    }
}

/// `−ln((v + 1) / background)` for every 8-bit sample value.
func macenkoODTable(_ background: Double) -> [Double] {
    (0...255).map { -log((Double($0) + 1) / background) }
}

/// Rows of `(AᵀA)⁻¹Aᵀ` for `A = [h e]` (3×2), flattened (2 × 3), or nil when `h` and `e` are parallel.
func pseudoInverse(_ h: [Double], _ e: [Double]) -> [Double]? {
    let hh = dot3(h, h), he = dot3(h, e), ee = dot3(e, e)
    let det = hh * ee - he * he
    guard det.isFinite, det > 1e-12 * hh * ee else { return nil }
    return (0..<3).map { (ee * h[$0] - he * e[$0]) / det } + (0..<3).map { (hh * e[$0] - he * h[$0]) / det }
}

@inline(__always)
func dot3(_ a: [Double], _ b: [Double]) -> Double { a[0] * b[0] + a[1] * b[1] + a[2] * b[2] }
