/// Area and per-channel intensity statistics of every label — the intensity part of
/// ``RegionProperties`` without the shape measurements, for compartments (cell, cytoplasm) whose
/// shape is not reported.
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
    /// Area and intensity statistics of every label over all its pixels and over the part of it
    /// outside `inner`'s labels, in one pass (e.g. cells, and cytoplasm = cell minus nucleus).
    ///
    /// - Parameters:
    ///   - intensity: same size, any number of channels.
    ///   - inner: same size; its nonzero pixels are left out of the second result.
    /// - Returns: `whole` over every pixel of a label, `outside` over those where `inner` is 0.
    /// - Throws: ``ImagingError`` when `intensity` or `inner` has another size.
    /// - Complexity: O(pixels · channels).
    public func intensityStatistics(
        _ intensity: Image<Float>, outside inner: LabelImage
    ) throws -> (whole: RegionIntensities, outside: RegionIntensities) {
        guard intensity.width == width, intensity.height == height, inner.width == width, inner.height == height else {
            throw ImagingError(
                .sizeMismatch,
                "intensity \(intensity.width)×\(intensity.height) and inner labels \(inner.width)×\(inner.height) must match the labels' \(width)×\(height)")
        }
        let n = count, c = intensity.channels
        var whole = Accumulator(labels: n, channels: c), outside = Accumulator(labels: n, channels: c)
        let v = intensity.pixels
        v.withUnsafeBufferPointer { v in
            labels.withUnsafeBufferPointer { l in
                inner.labels.withUnsafeBufferPointer { k in
                    for i in 0..<l.count where l[i] != 0 {
                        let label = Int(l[i])
                        whole.add(label, v.baseAddress! + i * c)
                        if k[i] == 0 { outside.add(label, v.baseAddress! + i * c) }
                    }
                    for i in 0..<l.count where l[i] != 0 {
                        let label = Int(l[i])
                        whole.addDeviation(label, v.baseAddress! + i * c)
                        if k[i] == 0 { outside.addDeviation(label, v.baseAddress! + i * c) }
                    }
                }
            }
        }
        return (whole.result(), outside.result())
    }

    /// Running sums of one compartment, label by label.
    private struct Accumulator {
        let channels: Int
        var area: [Int]
        var sum: [Double], minimum: [Double], maximum: [Double], squares: [Double]

        init(labels n: Int, channels: Int) {
            self.channels = channels
            area = [Int](repeating: 0, count: n + 1)
            sum = [Double](repeating: 0, count: (n + 1) * channels)
            minimum = [Double](repeating: .infinity, count: (n + 1) * channels)
            maximum = [Double](repeating: -.infinity, count: (n + 1) * channels)
            squares = [Double](repeating: 0, count: (n + 1) * channels)
        }

        @inline(__always)
        mutating func add(_ label: Int, _ samples: UnsafePointer<Float>) {
            area[label] += 1
            for k in 0..<channels {
                let s = Double(samples[k])
                sum[label * channels + k] += s
                minimum[label * channels + k] = Swift.min(minimum[label * channels + k], s)
                maximum[label * channels + k] = Swift.max(maximum[label * channels + k], s)
            }
        }

        @inline(__always)
        mutating func addDeviation(_ label: Int, _ samples: UnsafePointer<Float>) {
            for k in 0..<channels {
                let d = Double(samples[k]) - sum[label * channels + k] / Double(area[label])
                squares[label * channels + k] += d * d
            }
        }

        func result() -> RegionIntensities {
            let stats = area.indices.map { l -> [RegionProperties.ChannelStatistics] in
                guard l > 0, area[l] > 0 else { return [] }
                let a = Double(area[l])
                return (0..<channels).map { k in
                    RegionProperties.ChannelStatistics(
                        mean: sum[l * channels + k] / a, std: (squares[l * channels + k] / a).squareRoot(),
                        min: minimum[l * channels + k], max: maximum[l * channels + k], sum: sum[l * channels + k])
                }
            }
            return RegionIntensities(area: area, statistics: stats)
        }
    }
}
