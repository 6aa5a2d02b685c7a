/// A closed polygon along pixel edges, vertices at pixel corners: corner (x, y) is the top-left
/// corner of pixel (x, y), so pixel (0, 0) spans [0, 1] × [0, 1] (QuPath's and GeoJSON's
/// pixel coordinates). The first vertex is not repeated at the end. Clockwise on screen (y down).
public struct PixelPolygon: Sendable, Equatable {
    public var x: [Int32]
    public var y: [Int32]

    public init(x: [Int32], y: [Int32]) {
        precondition(x.count == y.count, "one y per x")
        self.x = x
        self.y = y
    }

    public var count: Int { x.count }

    /// Area enclosed (shoelace), in pixels: equals the pixel count of a region without holes.
    public var area: Double {
        var s = 0
        for i in 0..<count {
            let j = (i + 1) % count
            s += Int(x[i]) * Int(y[j]) - Int(x[j]) * Int(y[i])
        }
        return Double(abs(s)) / 2
    }
}

extension LabelImage {
    /// The outer boundary of every label as a polygon along pixel edges, indexed by label − 1
    /// (empty for labels without pixels).
    ///
    /// Crack following from each label's first pixel in raster order, with the region on the
    /// right; at a corner where the region continues only diagonally it turns right, so the
    /// outline encloses the label's 4-connected part that holds that first pixel, and the
    /// polygon is simple. Holes are not traced. Only direction changes are kept as vertices.
    ///
    /// - Complexity: O(pixels + Σ boundary lengths).
    public func outlines() -> [PixelPolygon] {
        var first = [Int](repeating: -1, count: count + 1)
        for i in 0..<labels.count {
            let l = Int(labels[i])
            if l != 0 && first[l] < 0 { first[l] = i }
        }
        let w = width, h = height
        return (1...max(1, count)).map { l -> PixelPolygon in
            guard l <= count, first[l] >= 0 else { return PixelPolygon(x: [], y: []) }
            let target = Int32(l)
            @inline(__always) func inside(_ px: Int, _ py: Int) -> Bool {
                px >= 0 && py >= 0 && px < w && py < h && labels[py * w + px] == target
            }
            // Directions: 0 east, 1 south, 2 west, 3 north (y down).
            let dx = [1, 0, -1, 0], dy = [0, 1, 0, -1]
            /// Pixels to the right and left of the edge leaving corner (x, y) in direction d.
            @inline(__always) func sides(_ x: Int, _ y: Int, _ d: Int) -> (right: Bool, left: Bool) {
                switch d {
                case 0: (inside(x, y), inside(x, y - 1))
                case 1: (inside(x - 1, y), inside(x, y))
                case 2: (inside(x - 1, y - 1), inside(x - 1, y))
                default: (inside(x, y - 1), inside(x - 1, y - 1))
                }
            }
            let sx = first[l] % w, sy = first[l] / w
            var xs: [Int32] = [Int32(sx)], ys: [Int32] = [Int32(sy)]
            var x = sx, y = sy, d = 0
            repeat {
                x += dx[d]
                y += dy[d]
                // Prefer turning right, then straight, then left: a boundary edge has the region on
                // its right and not on its left.
                var next = d
                for turn in [1, 0, 3] {
                    let c = (d + turn) % 4
                    let s = sides(x, y, c)
                    if s.right && !s.left { next = c; break }
                }
                if next != d || (x == sx && y == sy) {
                    if !(x == sx && y == sy) {
                        xs.append(Int32(x))
                        ys.append(Int32(y))
                    }
                }
                d = next
            } while !(x == sx && y == sy && d == 0)
            return PixelPolygon(x: xs, y: ys)
        }
    }
}
