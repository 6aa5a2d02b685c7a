/// Counts of sample values in bins, with the bins' centres, as scikit-image's
/// `exposure.histogram(image, nbins, source_range='image')` returns them.
///
/// Integer images get one bin per integer value from the image's minimum to its maximum (`nbins`
/// is ignored, as in scikit-image). `Float` images get `nbins` equal bins spanning the minimum to
/// the maximum, assigned exactly as NumPy's `histogram` does (last bin closed).
public struct Histogram: Sendable, Equatable {
    public var counts: [Int]
    public var binCenters: [Double]

    public init(counts: [Int], binCenters: [Double]) {
        self.counts = counts
        self.binCenters = binCenters
    }

    /// Total number of samples counted.
    public var total: Int { counts.reduce(0, +) }

    /// Histogram of a single-channel image, optionally only where `mask` is nonzero.
    /// - Throws: ``ImagingError`` for multi-channel images, a mismatched mask, an empty selection,
    ///   or non-finite float samples.
    public init<P: PixelComponent>(_ image: Image<P>, bins nbins: Int = 256, mask: Image<UInt8>? = nil) throws {
        guard image.channels == 1 else {
            throw ImagingError(.channelCount, "a histogram takes one channel, got \(image.channels); pass one channel")
        }
        guard nbins > 0 else { throw ImagingError(.invalidArgument, "bins must be positive, got \(nbins)") }
        if let mask { try checkMask(mask, for: image.width, image.height) }
        var values = [Double]()
        values.reserveCapacity(image.pixelCount)
        image.withUnsafeSamples { s in
            if let mask {
                mask.withUnsafeSamples { m in
                    for i in 0..<s.count where m[i] != 0 { values.append(s[i].doubleValue) }
                }
            } else {
                for v in s { values.append(v.doubleValue) }
            }
        }
        guard let lo = values.min(), let hi = values.max() else {
            throw ImagingError(.emptyInput, "the histogram has no samples (an empty mask?)")
        }
        guard lo.isFinite, hi.isFinite else {
            throw ImagingError(.invalidArgument, "the image has non-finite samples; a histogram needs finite values")
        }
        if P.sampleType != .float32 {
            let first = Int(lo), last = Int(hi)
            var counts = [Int](repeating: 0, count: last - first + 1)
            for v in values { counts[Int(v) - first] += 1 }
            self.init(counts: counts, binCenters: (first...last).map(Double.init))
            return
        }
        var first = lo, last = hi
        if first == last {
            first -= 0.5
            last += 0.5
        }
        let bins = try UniformBins(count: nbins, lower: first, upper: last)
        var counts = [Int](repeating: 0, count: nbins)
        for v in values { counts[bins.index(of: v)!] += 1 }
        self.init(counts: counts, binCenters: (0..<nbins).map { (bins.edges[$0] + bins.edges[$0 + 1]) / 2 })
    }

    /// Cumulative distribution: running count over total, as scikit-image's `cumulative_distribution`.
    public var cumulative: [Double] {
        let total = Double(self.total)
        var running = 0
        return counts.map { running += $0; return Double(running) / total }
    }
}

/// Histogram equalisation as scikit-image's `exposure.equalize_hist`: each sample is mapped to the
/// cumulative distribution at its value (linear interpolation between bin centres, `np.interp`).
///
/// - Parameters:
///   - image: one or more channels; the histogram is taken over all samples of all channels
///     together, as scikit-image does.
///   - bins: bins for `Float` images (integer images use one bin per value).
///   - mask: only pixels where the mask is nonzero build the histogram; all pixels are mapped.
/// - Returns: a `Float` image in `0...1`.
/// - Throws: ``ImagingError`` for an empty mask or a mismatched mask.
///
/// ## References
/// - R. C. Gonzalez, R. E. Woods, *Digital Image Processing*, 4th ed., §3.3 (2018).
/// - scikit-image 0.26 `skimage.exposure.equalize_hist`.
public func equalizeHistogram<P: PixelComponent>(_ image: Image<P>, bins: Int = 256, mask: Image<UInt8>? = nil) throws -> Image<Float> {
    let flat = try Image(width: image.pixelCount * image.channels, height: 1, channels: 1, pixels: image.pixels)
    var flatMask: Image<UInt8>?
    if let mask {
        try checkMask(mask, for: image.width, image.height)
        let m = mask.pixels
        let repeated = (0..<(m.count * image.channels)).map { m[$0 / image.channels] }
        flatMask = try Image(width: repeated.count, height: 1, channels: 1, pixels: repeated)
    }
    let hist = try Histogram(flat, bins: bins, mask: flatMask)
    let cdf = hist.cumulative
    let centers = hist.binCenters
    func interp(_ x: Double) -> Float {
        if x <= centers[0] { return Float(cdf[0]) }
        if x >= centers[centers.count - 1] { return Float(cdf[cdf.count - 1]) }
        // Binary search for the interval [centers[i], centers[i+1]] holding x.
        var lo = 0, hi = centers.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if centers[mid] <= x { lo = mid } else { hi = mid }
        }
        let t = (x - centers[lo]) / (centers[hi] - centers[lo])
        return Float(cdf[lo] + t * (cdf[hi] - cdf[lo]))
    }
    if P.sampleType != .float32 {
        let first = Int(centers[0])
        return image.map { v -> Float in
            let i = Int(v.doubleValue) - first
            return i < 0 ? Float(cdf[0]) : i >= cdf.count ? Float(cdf[cdf.count - 1]) : Float(cdf[i])
        }
    }
    return image.map { interp($0.doubleValue) }
}
