import Foundation

/// The normalised 1-D Gaussian kernel scipy builds: radius `⌊truncate·σ + 0.5⌋`, weights
/// `exp(−x²/(2σ²))` divided by their sum.
/// - Throws: ``ImagingError`` when `sigma` is not positive or `truncate` is not positive.
public func gaussianKernel(sigma: Double, truncate: Double = 4.0) throws -> [Float] {
    guard sigma > 0, sigma.isFinite else {
        throw ImagingError(.invalidArgument, "Gaussian sigma must be a positive number of pixels, got \(sigma)")
    }
    guard truncate > 0, truncate.isFinite else {
        throw ImagingError(.invalidArgument, "Gaussian truncate must be positive, got \(truncate)")
    }
    let radius = Int(truncate * sigma + 0.5)
    let weights = (-radius...radius).map { x in exp(-0.5 * Double(x * x) / (sigma * sigma)) }
    let total = weights.reduce(0, +)
    return weights.map { Float($0 / total) }
}

/// Gaussian blur of every channel, as scikit-image's `filters.gaussian` (scipy
/// `ndimage.gaussian_filter`: separable, kernel truncated at 4σ, edges extended with the nearest
/// pixel — `mode='nearest'`).
///
/// - Parameters:
///   - image: any number of channels; each is filtered independently.
///   - sigma: standard deviation in pixels (> 0).
/// - Returns: a `Float` image on the `0...1` scale (`img_as_float` of the input, then filtered).
/// - Throws: ``ImagingError`` when `sigma` is not positive.
/// - Complexity: O(pixels · σ), on all cores.
///
/// ## References
/// - scikit-image 0.26 `skimage.filters.gaussian`; SciPy 1.17 `scipy.ndimage.gaussian_filter`.
@_specialize(exported: true, where P == UInt8)
@_specialize(exported: true, where P == UInt16)
@_specialize(exported: true, where P == Float)
public func gaussianBlur<P: PixelComponent>(_ image: Image<P>, sigma: Double, truncate: Double = 4.0) throws -> Image<Float> {
    let kernel = try gaussianKernel(sigma: sigma, truncate: truncate)
    return separableFilter(image.normalizedFloat(), kernel: kernel)
}

/// Mean (box) filter over a `(2·radius+1)²` square with nearest-edge extension, as
/// `scipy.ndimage.uniform_filter(size=2·radius+1, mode='nearest')` on `img_as_float` input.
/// - Returns: a `Float` image on the `0...1` scale.
/// - Throws: ``ImagingError`` when `radius` is negative.
public func meanFilter<P: PixelComponent>(_ image: Image<P>, radius: Int) throws -> Image<Float> {
    guard radius >= 0 else { throw ImagingError(.invalidArgument, "mean filter radius must be 0 or more, got \(radius)") }
    let size = 2 * radius + 1
    return separableFilter(image.normalizedFloat(), kernel: [Float](repeating: 1 / Float(size), count: size))
}

/// How samples beyond the image edge are filled (SciPy's `mode`).
public enum EdgeMode: Sendable {
    /// `nearest`: the edge sample repeated (a a a | a b c d | d d d).
    case nearest
    /// `reflect`: mirrored about the edge, edge sample included (c b a | a b c d | d c b).
    case reflect

    /// The source index for position `i` of a line of `n` samples.
    @inline(__always)
    func index(_ i: Int, _ n: Int) -> Int {
        switch self {
        case .nearest:
            return min(max(i, 0), n - 1)
        case .reflect:
            if n == 1 { return 0 }
            var i = i % (2 * n)
            if i < 0 { i += 2 * n }
            return i < n ? i : 2 * n - 1 - i
        }
    }
}

/// Correlates every channel with `kernel` along rows and then along columns, extending edges with
/// the nearest pixel. The kernel has odd length and is centred.
func separableFilter(_ image: Image<Float>, kernel: [Float]) -> Image<Float> {
    separableFilter(image, rowKernel: kernel, columnKernel: kernel, mode: .nearest)
}

/// Correlates every channel with `rowKernel` along rows, then `columnKernel` along columns;
/// both odd-length and centred.
func separableFilter(_ image: Image<Float>, rowKernel: [Float], columnKernel: [Float], mode: EdgeMode) -> Image<Float> {
    let w = image.width, h = image.height, c = image.channels
    let kernel = rowKernel
    let radius = kernel.count / 2
    let src = image.contiguous().pixels
    // Both passes write every sample (rows are zeroed before their taps accumulate).
    var tmp = [Float](unsafeUninitializedCapacity: src.count) { _, count in count = src.count }
    var out = [Float](unsafeUninitializedCapacity: src.count) { _, count in count = src.count }
    let rowLength = w * c
    // Horizontal pass: pad each row by `radius` pixels of edge replication, then correlate.
    let sourceColumn = (0..<(w + 2 * radius)).map { mode.index($0 - radius, w) }
    src.withUnsafeBufferPointer { s in
        tmp.withUnsafeMutableBufferPointer { t in
            let sp = UncheckedSendable(s)
            let tp = SharedMutableBuffer(t.baseAddress!)
            kernel.withUnsafeBufferPointer { kp in
                let k = UncheckedSendable(kp)
                parallelChunks(h, minimumChunk: 8) { rows in
                    var padded = [Float](repeating: 0, count: (w + 2 * radius) * c)
                    for y in rows {
                        let row = y * rowLength
                        padded.withUnsafeMutableBufferPointer { pad in
                            let source = sp.value.baseAddress! + row
                            // Edges from the table; the interior is one copy.
                            for x in 0..<Swift.min(radius, w + 2 * radius) {
                                for ch in 0..<c { pad[x * c + ch] = source[sourceColumn[x] * c + ch] }
                            }
                            if radius < w + radius {
                                (pad.baseAddress! + radius * c).update(from: source, count: rowLength)
                            }
                            for x in (w + radius)..<(w + 2 * radius) {
                                for ch in 0..<c { pad[x * c + ch] = source[sourceColumn[x] * c + ch] }
                            }
                        }
                        // Tap-outer loop over a contiguous row: vectorises.
                        padded.withUnsafeBufferPointer { pp in
                            let o = tp.base + row
                            for i in 0..<rowLength { o[i] = 0 }
                            accumulateTaps(into: o, count: rowLength, weights: k.value) { pp.baseAddress! + $0 * c }
                        }
                    }
                }
            }
        }
    }
    // Vertical pass: each output row is a weighted sum of whole input rows (vectorisable).
    tmp.withUnsafeBufferPointer { t in
        out.withUnsafeMutableBufferPointer { o in
            let tp = UncheckedSendable(t)
            let op = SharedMutableBuffer(o.baseAddress!)
            parallelChunks(h, minimumChunk: 8) { rows in
                var acc = [Float](repeating: 0, count: rowLength)
                for y in rows {
                    for i in 0..<rowLength { acc[i] = 0 }
                    let columnRadius = columnKernel.count / 2
                    acc.withUnsafeMutableBufferPointer { a in
                        columnKernel.withUnsafeBufferPointer { weights in
                            accumulateTaps(into: a.baseAddress!, count: rowLength, weights: weights) { tap in
                                tp.value.baseAddress! + mode.index(y + tap - columnRadius, h) * rowLength
                            }
                        }
                    }
                    let base = y * rowLength
                    for i in 0..<rowLength { op[base + i] = acc[i] }
                }
            }
        }
    }
    return Image(unchecked: w, h, c, out)
}

/// `out[i] += Σ_tap weights[tap] · source(tap)[i]` over `count` samples, four taps per sweep so
/// that the output is loaded and stored once per four taps (vectorised).
@inline(__always)
func accumulateTaps(
    into out: UnsafeMutablePointer<Float>, count: Int, weights: UnsafeBufferPointer<Float>,
    _ source: (Int) -> UnsafePointer<Float>
) {
    var tap = 0
    while tap + 4 <= weights.count {
        let (w0, w1, w2, w3) = (weights[tap], weights[tap + 1], weights[tap + 2], weights[tap + 3])
        let (s0, s1, s2, s3) = (source(tap), source(tap + 1), source(tap + 2), source(tap + 3))
        for i in 0..<count { out[i] += (w0 * s0[i] + w1 * s1[i]) + (w2 * s2[i] + w3 * s3[i]) }
        tap += 4
    }
    while tap < weights.count {
        let weight = weights[tap], s = source(tap)
        for i in 0..<count { out[i] += weight * s[i] }
        tap += 1
    }
}

/// Laplacian of Gaussian as SciPy's `ndimage.gaussian_laplace(img_as_float(image), sigma)`:
/// the sum of the second Gaussian derivatives along rows and along columns, each a separable
/// filter with the order-2 kernel `(x²/σ⁴ − 1/σ²)·g(x)` (g the normalised Gaussian, radius
/// `⌊4σ + 0.5⌋`) on one axis and g on the other, edges mirrored (`mode='reflect'`).
/// Blobs of radius ≈ σ√2 brighter than their surroundings give strong negative responses.
///
/// - Throws: ``ImagingError`` when `sigma` is not positive.
/// - Complexity: O(pixels · σ), on all cores.
///
/// ## References
/// - D. Marr, E. Hildreth, "Theory of edge detection", Proc. R. Soc. Lond. B 207:187–217, 1980,
///   doi:10.1098/rspb.1980.0020.
/// - SciPy 1.17 `scipy.ndimage.gaussian_laplace`.
public func laplacianOfGaussian<P: PixelComponent>(_ image: Image<P>, sigma: Double, truncate: Double = 4.0) throws -> Image<Float> {
    let g = try gaussianKernel(sigma: sigma, truncate: truncate)
    let radius = g.count / 2
    let s2 = sigma * sigma
    let d2 = (0..<g.count).map { k -> Float in
        let x = Double(k - radius)
        return Float((x * x / (s2 * s2) - 1 / s2) * Double(g[k]))
    }
    let input = image.normalizedFloat()
    let alongRows = separableFilter(input, rowKernel: d2, columnKernel: g, mode: .reflect)
    let alongColumns = separableFilter(input, rowKernel: g, columnKernel: d2, mode: .reflect)
    let a = alongRows.pixels, b = alongColumns.pixels
    return Image(unchecked: image.width, image.height, image.channels, (0..<a.count).map { a[$0] + b[$0] })
}
