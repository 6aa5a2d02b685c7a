/// Area and per-channel intensity statistics of every label — the intensity part of
/// ``RegionProperties`` without the shape measurements, so that several compartments (nucleus,
/// cell, cytoplasm) are measured in one pass.
///
/// The statistics are those of ``LabelImage/regionProperties(intensity:)``, computed the same way
/// (sums in raster order, mean = sum / area, population standard deviation from a second pass), so
/// the numbers are identical.
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
    /// - Complexity: O(pixels · channels); the intensities are read twice (sums, then deviations),
    ///   on all cores (labels split between them).
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
                                for pass in 0..<2 {
                                    if pass == 1 { for a in [whole, within!, outside!] { a.finishSums(lo, hi) } }
                                    for i in span {
                                        let label = l.value[i], innerLabel = k.value[i], samples = values.value + i * c
                                        let mine = label >= lo && label <= hi, innerMine = innerLabel >= lo && innerLabel <= hi
                                        guard mine || innerMine else { continue }
                                        if mine { whole.add(Int(label), samples, deviation: pass == 1) }
                                        if innerLabel != 0 {
                                            if innerMine { within!.add(Int(innerLabel), samples, deviation: pass == 1) }
                                        } else if mine {
                                            outside!.add(Int(label), samples, deviation: pass == 1)
                                        }
                                    }
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
                            for pass in 0..<2 {
                                if pass == 1 { whole.finishSums(lo, hi) }
                                for i in span where l.value[i] >= lo && l.value[i] <= hi {
                                    whole.add(Int(l.value[i]), values.value + i * c, deviation: pass == 1)
                                }
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
        let maximum: UnsafeMutablePointer<Double>, squares: UnsafeMutablePointer<Double>
        /// sum / area per label and channel, set between the passes (the same division the
        /// second pass would otherwise repeat for every pixel).
        let mean: UnsafeMutablePointer<Double>

        init(labels n: Int, channels: Int) {
            labels = n
            self.channels = channels
            let size = (n + 1) * channels
            area = .allocate(capacity: n + 1)
            area.initialize(repeating: 0, count: n + 1)
            sum = .allocate(capacity: size)
            sum.initialize(repeating: 0, count: size)
            minimum = .allocate(capacity: size)
            minimum.initialize(repeating: .infinity, count: size)
            maximum = .allocate(capacity: size)
            maximum.initialize(repeating: -.infinity, count: size)
            squares = .allocate(capacity: size)
            squares.initialize(repeating: 0, count: size)
            mean = .allocate(capacity: size)
            mean.initialize(repeating: 0, count: size)
        }

        deinit {
            area.deallocate()
            for p in [sum, minimum, maximum, squares, mean] { p.deallocate() }
        }

        /// The first pass (`deviation` false) or the second.
        @inline(__always)
        func add(_ label: Int, _ samples: UnsafePointer<Float>, deviation: Bool) {
            if deviation { addDeviation(label, samples) } else { add(label, samples) }
        }

        @inline(__always)
        func add(_ label: Int, _ samples: UnsafePointer<Float>) {
            area[label] += 1
            let base = label * channels
            @inline(__always) func add(_ k: Int) {
                let s = Double(samples[k])
                sum[base + k] += s
                // One MINSD/MAXSD each (the samples are finite).
                minimum[base + k] = s < minimum[base + k] ? s : minimum[base + k]
                maximum[base + k] = s > maximum[base + k] ? s : maximum[base + k]
            }
            // The nucleus analyses' six channels as a loop the compiler unrolls.
            if channels == 6 {
                for k in 0..<6 { add(k) }
            } else {
                for k in 0..<channels { add(k) }
            }
        }

        /// Means of the labels `first` through `last` (where they exist), after the first pass.
        func finishSums(_ first: Int32, _ last: Int32) {
            var l = Swift.max(1, Int(first))
            while l <= Swift.min(labels, Int(last)) {
                if area[l] > 0 {
                    for k in 0..<channels { mean[l * channels + k] = sum[l * channels + k] / Double(area[l]) }
                }
                l += 1
            }
        }

        @inline(__always)
        func addDeviation(_ label: Int, _ samples: UnsafePointer<Float>) {
            let base = label * channels
            @inline(__always) func add(_ k: Int) {
                let d = Double(samples[k]) - mean[base + k]
                squares[base + k] += d * d
            }
            if channels == 6 {
                for k in 0..<6 { add(k) }
            } else {
                for k in 0..<channels { add(k) }
            }
        }

        func result() -> RegionIntensities {
            let stats = (0...labels).map { l -> [RegionProperties.ChannelStatistics] in
                guard l > 0, area[l] > 0 else { return [] }
                let a = Double(area[l])
                return (0..<channels).map { k in
                    RegionProperties.ChannelStatistics(
                        mean: sum[l * channels + k] / a, std: (squares[l * channels + k] / a).squareRoot(),
                        min: minimum[l * channels + k], max: maximum[l * channels + k], sum: sum[l * channels + k])
                }
            }
            return RegionIntensities(area: Array(UnsafeBufferPointer(start: area, count: labels + 1)), statistics: stats)
        }
    }
}
