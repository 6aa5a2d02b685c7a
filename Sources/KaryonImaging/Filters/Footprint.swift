/// A neighbourhood shape for rank filters and morphology.
public enum Footprint: Sendable, Equatable {
    /// A `(2·radius+1)²` square.
    case square(radius: Int)
    /// scikit-image `morphology.disk(radius)`: the offsets with `dx² + dy² ≤ radius²`.
    case disk(radius: Int)

    public var radius: Int {
        switch self {
        case .square(let r), .disk(let r): r
        }
    }

    /// Half-width of the footprint's row at vertical offset `dy` (`|dy| ≤ radius`).
    func halfWidth(atRow dy: Int) -> Int {
        switch self {
        case .square(let r):
            return r
        case .disk(let r):
            var w = 0
            while (w + 1) * (w + 1) + dy * dy <= r * r { w += 1 }
            return w
        }
    }

    /// Number of offsets in the footprint.
    public var count: Int {
        let r = radius
        return (-r...r).reduce(0) { $0 + 2 * halfWidth(atRow: $1) + 1 }
    }
}
