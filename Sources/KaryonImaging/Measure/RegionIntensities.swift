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
    /// - Complexity: O(pixels · channels); the intensities are read twice (sums, then deviations).
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
        let v = intensity.pixels
        v.withUnsafeBufferPointer { v in
            labels.withUnsafeBufferPointer { l in
                if let inner, let within, let outside {
                    inner.labels.withUnsafeBufferPointer { k in
                        for i in 0..<l.count {
                            let label = Int(l[i]), innerLabel = Int(k[i]), samples = v.baseAddress! + i * c
                            if label != 0 { whole.add(label, samples) }
                            if innerLabel != 0 { within.add(innerLabel, samples) } else if label != 0 { outside.add(label, samples) }
                        }
                        for i in 0..<l.count {
                            let label = Int(l[i]), innerLabel = Int(k[i]), samples = v.baseAddress! + i * c
                            if label != 0 { whole.addDeviation(label, samples) }
                            if innerLabel != 0 { within.addDeviation(innerLabel, samples) } else if label != 0 { outside.addDeviation(label, samples) }
                        }
                    }
                } else {
                    for i in 0..<l.count where l[i] != 0 { whole.add(Int(l[i]), v.baseAddress! + i * c) }
                    for i in 0..<l.count where l[i] != 0 { whole.addDeviation(Int(l[i]), v.baseAddress! + i * c) }
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
