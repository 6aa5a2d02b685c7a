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
        // Labels are split into one contiguous range per core; every core scans the whole raster
        // and accumulates only its own labels, so each label's sums still run in raster order.
        let largest = Swift.max(count, inner?.count ?? 0)
        let parts = largest >= 64 ? ProcessInfoCores.count : 1
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
                                for pass in 0..<2 {
                                    for i in 0..<l.value.count {
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
                            for pass in 0..<2 {
                                for i in 0..<l.value.count where l.value[i] >= lo && l.value[i] <= hi {
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

    /// Running sums of one compartment, label by label (owned by one call).
    private final class Accumulator {
        let labels: Int, channels: Int
        let area: UnsafeMutablePointer<Int>
        let sum: UnsafeMutablePointer<Double>, minimum: UnsafeMutablePointer<Double>
        let maximum: UnsafeMutablePointer<Double>, squares: UnsafeMutablePointer<Double>

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
        }

        deinit {
            area.deallocate()
            for p in [sum, minimum, maximum, squares] { p.deallocate() }
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
            for k in 0..<channels {
                let s = Double(samples[k])
                sum[base + k] += s
                minimum[base + k] = Swift.min(minimum[base + k], s)
                maximum[base + k] = Swift.max(maximum[base + k], s)
            }
        }

        @inline(__always)
        func addDeviation(_ label: Int, _ samples: UnsafePointer<Float>) {
            let base = label * channels
            for k in 0..<channels {
                let d = Double(samples[k]) - sum[base + k] / Double(area[label])
                squares[base + k] += d * d
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
