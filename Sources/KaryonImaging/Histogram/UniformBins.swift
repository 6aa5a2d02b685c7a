/// Equal-width bins over a closed range, assigned exactly as NumPy's `histogram(a, bins, range)`:
/// edges `linspace(lower, upper, count + 1)`, the computed index corrected against those edges,
/// the last bin closed on the right.
public struct UniformBins: Sendable, Equatable {
    public let count: Int
    public let lower: Double
    public let upper: Double
    /// The `count + 1` bin edges.
    public let edges: [Double]
    @usableFromInline let norm: Double

    /// - Throws: ``ImagingError`` unless `count > 0` and `lower < upper` are finite.
    public init(count: Int, lower: Double, upper: Double) throws {
        guard count > 0 else { throw ImagingError(.invalidArgument, "bins must be positive, got \(count)") }
        guard lower.isFinite, upper.isFinite, lower < upper else {
            throw ImagingError(.invalidArgument, "a bin range needs finite lower < upper, got \(lower)…\(upper)")
        }
        self.count = count
        self.lower = lower
        self.upper = upper
        let step = (upper - lower) / Double(count)
        var edges = (0...count).map { lower + Double($0) * step }
        edges[count] = upper
        self.edges = edges
        norm = Double(count) / (upper - lower)
    }

    /// The bin of `v`, or nil when `v` lies outside `lower…upper` (or is NaN).
    @inlinable
    public func index(of v: Double) -> Int? {
        guard v >= lower, v <= upper else { return nil }
        var i = Int((v - lower) * norm)
        if i == count { i -= 1 }
        if v < edges[i] { i -= 1 } else if i != count - 1, v >= edges[i + 1] { i += 1 }
        return i
    }
}
