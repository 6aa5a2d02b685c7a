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

/// Correlates every channel with `kernel` along rows and then along columns, extending edges with
/// the nearest pixel. The kernel has odd length and is centred.
func separableFilter(_ image: Image<Float>, kernel: [Float]) -> Image<Float> {
    let w = image.width, h = image.height, c = image.channels
    let radius = kernel.count / 2
    let src = image.contiguous().pixels
    var tmp = [Float](repeating: 0, count: src.count)
    var out = [Float](repeating: 0, count: src.count)
    let rowLength = w * c
    // Horizontal pass: pad each row by `radius` pixels of edge replication, then correlate.
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
                        for x in 0..<(w + 2 * radius) {
                            let sx = min(max(x - radius, 0), w - 1)
                            for ch in 0..<c { padded[x * c + ch] = sp.value[row + sx * c + ch] }
                        }
                        // Tap-outer loop over a contiguous row: vectorises.
                        padded.withUnsafeBufferPointer { pp in
                            let o = tp.base + row
                            for i in 0..<rowLength { o[i] = 0 }
                            for tap in 0..<k.value.count {
                                let weight = k.value[tap]
                                let src = pp.baseAddress! + tap * c
                                for i in 0..<rowLength { o[i] += weight * src[i] }
                            }
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
                    for tap in 0..<kernel.count {
                        let sy = min(max(y + tap - radius, 0), h - 1)
                        let weight = kernel[tap]
                        let base = sy * rowLength
                        acc.withUnsafeMutableBufferPointer { a in
                            let src = tp.value.baseAddress! + base
                            let dst = a.baseAddress!
                            for i in 0..<rowLength { dst[i] += weight * src[i] }
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
