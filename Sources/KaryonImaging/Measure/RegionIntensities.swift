/// Area and per-channel intensity statistics of every label — the intensity part of
/// ``RegionProperties`` without the shape measurements, so that several compartments (nucleus,
/// cell, cytoplasm) are measured in one pass.
///
/// The statistics are those of ``LabelImage/regionProperties(intensity:)``, computed the same way
/// (sums in raster order, mean = sum / area, population standard deviation by shifted sums, see
/// ``ShiftedMoments``), so the numbers are identical.
public struct RegionIntensities: Sendable, Equatable {
    /// Pixels per label, indexed by label (entry 0 is the background).
    public var area: [Int]
    /// Per label (indexed by label), per channel; labels without pixels have an empty array.
    public var statistics: [[RegionProperties.ChannelStatistics]]
}

extension LabelImage {
    /// Area and intensity statistics of every label, and optionally of an inner label image's
    /// labels and of the part of every label outside them — e.g. cells, nuclei and cytoplasm
    /// (cell minus nucleus) — in one pass over the intensities.
    ///
    /// - Parameters:
    ///   - intensity: same size, any number of channels.
    ///   - inner: same size, optional; its labels get their own statistics, and its nonzero pixels
    ///     are left out of `outside`.
    /// - Returns: `whole` over every pixel of each label; with `inner`, `inner` per inner label and
    ///   `outside` per label over its pixels where `inner` is 0.
    /// - Throws: ``ImagingError`` when `intensity` or `inner` has another size.
    /// - Complexity: O(pixels · channels); the intensities are read once, run by run (pixels of a
    ///   row with the same labels), on all cores (labels split between them).
    public func intensityStatistics(
        _ intensity: Image<Float>, inner: LabelImage? = nil
    ) throws -> (whole: RegionIntensities, inner: RegionIntensities?, outside: RegionIntensities?) {
        guard intensity.width == width, intensity.height == height,
              inner.map({ $0.width == width && $0.height == height }) ?? true else {
            throw ImagingError(
                .sizeMismatch,
                "the intensity image (\(intensity.width)×\(intensity.height)) and inner labels must match the labels' \(width)×\(height)")
        }
        let c = intensity.channels
        let whole = Accumulator(labels: count, channels: c)
        let within = inner.map { Accumulator(labels: $0.count, channels: c) }
        let outside = inner.map { _ in Accumulator(labels: count, channels: c) }
        // Labels are split into one contiguous range per core, and each core accumulates only its
        // own labels, so each label's sums still run in raster order. Labels are numbered roughly
        // in raster order, so each core's pixels lie mostly in its own band of rows: it scans from
        // its first pixel to its last.
        let largest = Swift.max(count, inner?.count ?? 0)
        let parts = largest >= 64 ? Parallelism.threadsPerImage : 1
        let v = intensity.pixels
        v.withUnsafeBufferPointer { v in
            labels.withUnsafeBufferPointer { l in
                let values = UncheckedSendable(v.baseAddress!), l = UncheckedSendable(l)
                let shared = UncheckedSendable((whole, within, outside))
                if let inner {
                    inner.labels.withUnsafeBufferPointer { k in
                        let k = UncheckedSendable(k)
                        parallelChunks(parts, minimumChunk: 1) { range in
                            for part in range {
                                let lo = Int32(part * largest / parts + 1), hi = Int32((part + 1) * largest / parts)
                                let (whole, within, outside) = shared.value
                                @inline(__always) func owns(_ i: Int) -> Bool {
                                    (l.value[i] >= lo && l.value[i] <= hi) || (k.value[i] >= lo && k.value[i] <= hi)
                                }
                                let span = pixelSpan(l.value.count, owns)
                                // Run by run: consecutive pixels with the same label and inner label.
                                var i = span.lowerBound
                                while i < span.upperBound {
                                    let label = l.value[i], innerLabel = k.value[i]
                                    var end = i + 1
                                    while end < span.upperBound && l.value[end] == label && k.value[end] == innerLabel { end += 1 }
                                    let mine = label >= lo && label <= hi, innerMine = innerLabel >= lo && innerLabel <= hi
                                    let samples = values.value + i * c, run = end - i
                                    if mine { whole.add(Int(label), samples, run) }
                                    if innerLabel != 0 {
                                        if innerMine { within!.add(Int(innerLabel), samples, run) }
                                    } else if mine {
                                        outside!.add(Int(label), samples, run)
                                    }
                                    i = end
                                }
                            }
                        }
                    }
                } else {
                    parallelChunks(parts, minimumChunk: 1) { range in
                        for part in range {
                            let lo = Int32(part * largest / parts + 1), hi = Int32((part + 1) * largest / parts)
                            let whole = shared.value.0
                            let span = pixelSpan(l.value.count) { l.value[$0] >= lo && l.value[$0] <= hi }
                            var i = span.lowerBound
                            while i < span.upperBound {
                                let label = l.value[i]
                                var end = i + 1
                                while end < span.upperBound && l.value[end] == label { end += 1 }
                                if label >= lo && label <= hi { whole.add(Int(label), values.value + i * c, end - i) }
                                i = end
                            }
                        }
                    }
                }
            }
        }
        return (whole.result(), within?.result(), outside?.result())
    }

    /// From the first to the last index below `count` where `owns` holds (empty when nowhere).
    @inline(__always)
    private func pixelSpan(_ count: Int, _ owns: (Int) -> Bool) -> Range<Int> {
        var first = 0, last = count - 1
        while first < count && !owns(first) { first += 1 }
        while last > first && !owns(last) { last -= 1 }
        return first < count ? first..<(last + 1) : 0..<0
    }

    /// Running sums of one compartment, label by label (owned by one call).
    private final class Accumulator {
        let labels: Int, channels: Int
        let area: UnsafeMutablePointer<Int>
        let sum: UnsafeMutablePointer<Double>, minimum: UnsafeMutablePointer<Double>
        let maximum: UnsafeMutablePointer<Double>
        /// Shifted sums for the standard deviation (``ShiftedMoments``): the label's first sample,
        /// Σ(x − shift) and Σ(x − shift)².
        let shift: UnsafeMutablePointer<Double>, shifted: UnsafeMutablePointer<Double>
        let shiftedSquares: UnsafeMutablePointer<Double>

        init(labels n: Int, channels: Int) {
            labels = n
            self.channels = channels
            let size = (n + 1) * channels
            area = .allocate(capacity: n + 1)
            area.initialize(repeating: 0, count: n + 1)
            func buffer(_ value: Double) -> UnsafeMutablePointer<Double> {
                let p = UnsafeMutablePointer<Double>.allocate(capacity: size)
                p.initialize(repeating: value, count: size)
                return p
            }
            sum = buffer(0)
            minimum = buffer(.infinity)
            maximum = buffer(-.infinity)
            shift = buffer(0)
            shifted = buffer(0)
            shiftedSquares = buffer(0)
        }

        deinit {
            area.deallocate()
            for p in [sum, minimum, maximum, shift, shifted, shiftedSquares] { p.deallocate() }
        }

        /// Adds a run of `count` pixels of one label whose samples follow each other from
        /// `samples`. The running values stay in registers for the run and are added pixel after
        /// pixel, in raster order, as a pixel-by-pixel update in memory would, so the sums are the
        /// same to the bit; the six channels of a nucleus analysis are carried side by side in
        /// one vector.
        @inline(__always)
        func add(_ label: Int, _ samples: UnsafePointer<Float>, _ count: Int) {
            let base = label * channels
            if area[label] == 0 {
                for k in 0..<channels { shift[base + k] = Double(samples[k]) }
            }
            area[label] += count
            if channels == 6 {
                var s = SIMD8<Double>(), lo = SIMD8<Double>(), hi = SIMD8<Double>()
                var s1 = SIMD8<Double>(), s2 = SIMD8<Double>(), k0 = SIMD8<Double>()
                for k in 0..<6 {
                    s[k] = sum[base + k]; lo[k] = minimum[base + k]; hi[k] = maximum[base + k]
                    s1[k] = shifted[base + k]; s2[k] = shiftedSquares[base + k]; k0[k] = shift[base + k]
                }
                for p in 0..<count {
                    let q = samples + p * 6
                    let v = SIMD8(Double(q[0]), Double(q[1]), Double(q[2]), Double(q[3]), Double(q[4]), Double(q[5]), 0, 0)
                    s += v
                    let d = v - k0
                    s1 += d
                    s2 += d * d
                    // One MINPD/MAXPD each (the samples are finite).
                    lo.replace(with: v, where: v .< lo)
                    hi.replace(with: v, where: v .> hi)
                }
                for k in 0..<6 {
                    sum[base + k] = s[k]; minimum[base + k] = lo[k]; maximum[base + k] = hi[k]
                    shifted[base + k] = s1[k]; shiftedSquares[base + k] = s2[k]
                }
            } else {
                for k in 0..<channels {
                    var s = sum[base + k], lo = minimum[base + k], hi = maximum[base + k]
                    var s1 = shifted[base + k], s2 = shiftedSquares[base + k]
                    let k0 = shift[base + k]
                    for p in 0..<count {
                        let v = Double(samples[p * channels + k])
                        s += v
                        let d = v - k0
                        s1 += d
                        s2 += d * d
                        lo = v < lo ? v : lo
                        hi = v > hi ? v : hi
                    }
                    sum[base + k] = s
                    minimum[base + k] = lo
                    maximum[base + k] = hi
                    shifted[base + k] = s1
                    shiftedSquares[base + k] = s2
                }
            }
        }

        func result() -> RegionIntensities {
            let stats = (0...labels).map { l -> [RegionProperties.ChannelStatistics] in
                guard l > 0, area[l] > 0 else { return [] }
                let a = Double(area[l])
                return (0..<channels).map { k in
                    let i = l * channels + k
                    return RegionProperties.ChannelStatistics(
                        mean: sum[i] / a, std: ShiftedMoments.std(shifted: shifted[i], squares: shiftedSquares[i], count: a),
                        min: minimum[i], max: maximum[i], sum: sum[i])
                }
            }
            return RegionIntensities(area: Array(UnsafeBufferPointer(start: area, count: labels + 1)), statistics: stats)
        }
    }
}

/// The population standard deviation from one pass of shifted sums: with K the first sample,
/// σ² = (Σ(x − K)² − (Σ(x − K))² / n) / n. Shifting by a sample of the data keeps the two sums
/// small, so the subtraction does not cancel the way Σx² − (Σx)²/n does when the mean is large
/// beside the spread (Chan, Golub & LeVeque 1983).
///
/// ## References
/// - T. F. Chan, G. H. Golub, R. J. LeVeque, "Algorithms for computing the sample variance:
///   analysis and recommendations", The American Statistician 37(3):242–247, 1983,
///   doi:10.1080/00031305.1983.10483115.
enum ShiftedMoments {
    @inline(__always)
    static func std(shifted: Double, squares: Double, count: Double) -> Double {
        Swift.max(0, (squares - shifted * shifted / count) / count).squareRoot()
    }
}
