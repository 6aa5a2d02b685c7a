/// The convex hull of one region as scikit-image 0.26 sees it in `regionprops`: the hull pixels
/// (`image_convex`, `area_convex`), the largest Feret diameter of their contour
/// (`feret_diameter_max`) and the smallest width of that contour's hull (the minimum caliper).
///
/// All geometry is exact: coordinates are doubled so that every point — pixel centres, pixel edge
/// midpoints — is an integer pair (row, column), and only the final lengths are floating point.
///
/// - `convex_hull_image` represents a pixel (r, c) by its four edge midpoints (r ± ½, c),
///   (r, c ± ½) (`offset_coordinates=True`), takes their convex hull and keeps every pixel centre
///   inside it or on its border (`include_borders=True`; the crossing test of `point_in_polygon` is
///   exact for these coordinates). Only the first and last pixel of a row can be hull vertices, so
///   the hull is built from the row runs alone: its left side is the lower convex envelope of the
///   first pixels' midpoints, its right side the upper envelope of the last pixels' midpoints.
/// - `feret_diameter_max` runs marching squares at level ½ over the (padded) hull image. On a
///   binary image every contour point is the midpoint between a hull pixel and a 4-neighbour
///   outside it; as the hull image's rows and columns are unbroken runs, the points that can be
///   extreme are the left/right midpoints of each row and the top/bottom midpoints of each column.
///   The diameter and the width of their hull follow by rotating calipers.
///
/// ## References
/// - scikit-image 0.26 `skimage.morphology.convex_hull_image`, `skimage.measure.grid_points_in_poly`,
///   `skimage.measure.find_contours`, `RegionProperties.feret_diameter_max`.
/// - A. M. Andrew, "Another efficient algorithm for convex hulls in two dimensions", Inf. Process.
///   Lett. 9(5):216–219, 1979, doi:10.1016/0020-0190(79)90072-3 (monotone chain).
/// - G. T. Toussaint, "Solving geometric problems with the rotating calipers", Proc. IEEE MELECON
///   1983 (diameter and width of a convex polygon).
/// - M. E. Houle, G. T. Toussaint, "Computing the width of a set", IEEE Trans. Pattern Anal. Mach.
///   Intell. 10(5):761–765, 1988, doi:10.1109/34.6790 (the width is attained with one side of the
///   caliper flush with a hull edge).
struct RegionHull {
    /// Pixels of `image_convex`.
    var convexArea: Int
    /// `feret_diameter_max`: the largest distance between two contour points of the hull image.
    var feretDiameterMax: Double
    /// Smallest distance between two parallel lines enclosing the same contour points.
    var minCaliper: Double

    /// A point with doubled coordinates: `x` is 2·row, `y` is 2·column.
    struct Point: Equatable {
        var x: Int, y: Int
    }

    /// The first and last column of a region's pixels in one row.
    struct Run {
        var row: Int, first: Int, last: Int
    }

    /// Buffers reused from one region to the next.
    struct Scratch {
        var lower: [Point] = [], upper: [Point] = [], polygon: [Point] = []
        /// Hull pixels per row (first and last column), then new top/bottom columns per row.
        var first: [Int] = [], last: [Int] = [], bottomFirst: [Int] = [], bottomLast: [Int] = []
    }

    /// - Parameter runs: for each row holding pixels of the region, in increasing row order, the
    ///   columns of its first and last pixel. Must not be empty.
    /// - Complexity: O(h + w) for a region spanning h rows and w columns.
    init(runs: ArraySlice<Run>, scratch s: inout Scratch) {
        precondition(!runs.isEmpty, "a region has at least one pixel")
        // Left side: lower envelope (in column) of (2r ∓ 1, 2·first) and (2r, 2·first − 1); right
        // side: upper envelope of the last pixels' midpoints. Where two rows meet (x = 2r + 1) only
        // the outer point counts.
        s.lower.removeAll(keepingCapacity: true)
        s.upper.removeAll(keepingCapacity: true)
        for k in runs.indices {
            let run = runs[k], x = 2 * run.row
            if k == runs.startIndex || runs[k - 1].row != run.row - 1 {
                Self.push(Point(x: x - 1, y: 2 * run.first), lower: &s.lower)
                Self.push(Point(x: x - 1, y: 2 * run.last), upper: &s.upper)
            }
            Self.push(Point(x: x, y: 2 * run.first - 1), lower: &s.lower)
            Self.push(Point(x: x, y: 2 * run.last + 1), upper: &s.upper)
            var first = run.first, last = run.last
            if k + 1 < runs.endIndex && runs[k + 1].row == run.row + 1 {
                first = min(first, runs[k + 1].first)
                last = max(last, runs[k + 1].last)
            }
            Self.push(Point(x: x + 1, y: 2 * first), lower: &s.lower)
            Self.push(Point(x: x + 1, y: 2 * last), upper: &s.upper)
        }

        // Hull pixels per row. Every row of the bounding box has some: the hull holds a pixel-wide
        // diamond around every point of the segment between two pixel centres.
        let top = runs.first!.row, h = runs.last!.row - top + 1
        Self.spans(lower: s.lower, upper: s.upper, rows: top..<(top + h), first: &s.first, last: &s.last)
        var area = 0
        for k in 0..<h { area += s.last[k] - s.first[k] + 1 }
        convexArea = area

        // Columns whose lowest hull pixel is in row k: the part of the row's span outside the
        // spans below it (rows and columns of the hull image are unbroken runs, so the spans seen
        // so far always cover one interval). Kept as the leftmost and rightmost such column.
        s.bottomFirst.removeAll(keepingCapacity: true)
        s.bottomFirst.append(contentsOf: repeatElement(Int.max, count: h))
        s.bottomLast.removeAll(keepingCapacity: true)
        s.bottomLast.append(contentsOf: repeatElement(Int.min, count: h))
        var lo = Int.max, hi = Int.min
        for k in stride(from: h - 1, through: 0, by: -1) {
            (s.bottomFirst[k], s.bottomLast[k]) = Self.newColumns(s.first[k], s.last[k], covered: &lo, &hi)
        }
        // Contour points that can lie on the contour's hull, fed in row order to both envelopes:
        // at x = 2r − 1 the top midpoints of row r and the bottom midpoints of row r − 1, at x = 2r
        // the left and right midpoints of row r.
        s.lower.removeAll(keepingCapacity: true)
        s.upper.removeAll(keepingCapacity: true)
        lo = Int.max; hi = Int.min
        for k in 0..<(h + 1) {
            let x = 2 * (top + k)
            var (a, b) = k < h ? Self.newColumns(s.first[k], s.last[k], covered: &lo, &hi) : (Int.max, Int.min)
            if k > 0 { a = min(a, s.bottomFirst[k - 1]); b = max(b, s.bottomLast[k - 1]) }
            if a <= b {
                Self.push(Point(x: x - 1, y: 2 * a), lower: &s.lower)
                Self.push(Point(x: x - 1, y: 2 * b), upper: &s.upper)
            }
            if k < h {
                Self.push(Point(x: x, y: 2 * s.first[k] - 1), lower: &s.lower)
                Self.push(Point(x: x, y: 2 * s.last[k] + 1), upper: &s.upper)
            }
        }
        // Counter-clockwise (in x, y) polygon without repeated vertices: the lower envelope, then
        // the upper one backwards. Never degenerate: a single pixel already gives a diamond.
        s.polygon.removeAll(keepingCapacity: true)
        s.polygon.append(contentsOf: s.lower)
        for p in s.upper.reversed() where p != s.polygon.last! { s.polygon.append(p) }
        if s.polygon.last! == s.polygon.first! { s.polygon.removeLast() }
        (feretDiameterMax, minCaliper) = Self.calipers(s.polygon)
    }

    /// The columns of `first...last` outside `lo...hi`, as their leftmost and rightmost
    /// (`Int.max`, `Int.min` when there are none); widens `lo...hi` to include the span.
    @inline(__always)
    static func newColumns(_ first: Int, _ last: Int, covered lo: inout Int, _ hi: inout Int) -> (Int, Int) {
        let result: (Int, Int)
        if lo > hi {
            result = (first, last)
        } else {
            result = (first < lo ? first : (last > hi ? hi + 1 : .max), last > hi ? last : (first < lo ? lo - 1 : .min))
        }
        lo = min(lo, first)
        hi = max(hi, last)
        return result
    }

    /// Adds `p` (x increasing) to the lower convex envelope, dropping points above it and
    /// collinear points.
    @inline(__always)
    static func push(_ p: Point, lower chain: inout [Point]) {
        while chain.count >= 2 && cross(chain[chain.count - 2], chain[chain.count - 1], p) <= 0 { chain.removeLast() }
        chain.append(p)
    }

    /// Adds `p` (x increasing) to the upper convex envelope.
    @inline(__always)
    static func push(_ p: Point, upper chain: inout [Point]) {
        while chain.count >= 2 && cross(chain[chain.count - 2], chain[chain.count - 1], p) >= 0 { chain.removeLast() }
        chain.append(p)
    }

    /// z of (a − o) × (b − o): positive for a counter-clockwise turn o → a → b.
    @inline(__always)
    static func cross(_ o: Point, _ a: Point, _ b: Point) -> Int {
        (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
    }

    /// For each row in `rows`, the first and last column whose pixel centre lies between the
    /// envelopes: the ceiling of the lower one and the floor of the upper one at x = 2·row. The
    /// rows lie strictly inside the envelopes' x extent.
    static func spans(lower: [Point], upper: [Point], rows: Range<Int>, first: inout [Int], last: inout [Int]) {
        first.removeAll(keepingCapacity: true)
        last.removeAll(keepingCapacity: true)
        var i = 0, j = 0
        for row in rows {
            let x = 2 * row
            while lower[i + 1].x < x { i += 1 }
            while upper[j + 1].x < x { j += 1 }
            // On a → b (a.x < x ≤ b.x) the doubled column is a.y + (x − a.x)(b.y − a.y)/(b.x − a.x);
            // the column is half of it.
            let a = lower[i], b = lower[i + 1], c = upper[j], d = upper[j + 1]
            first.append(-floorDivision(-(a.y * (b.x - a.x) + (x - a.x) * (b.y - a.y)), 2 * (b.x - a.x)))
            last.append(floorDivision(c.y * (d.x - c.x) + (x - c.x) * (d.y - c.y), 2 * (d.x - c.x)))
        }
    }

    @inline(__always)
    static func floorDivision(_ n: Int, _ d: Int) -> Int {
        let q = n / d
        return (n % d != 0 && n < 0) ? q - 1 : q
    }

    /// Diameter and width of a counter-clockwise, strictly convex polygon with doubled coordinates,
    /// in undoubled units, by rotating calipers: for each edge, the vertex farthest from its line
    /// gives a width candidate and, with the edge's ends, two antipodal pairs.
    static func calipers(_ hull: [Point]) -> (diameter: Double, width: Double) {
        let n = hull.count
        var j = 1
        var diameter2 = 0
        var width = Double.infinity
        for i in 0..<n {
            let p = hull[i], q = hull[i + 1 == n ? 0 : i + 1]
            // Twice the area of (p, q, v): the distance of v from line pq times |pq|.
            var height = cross(p, q, hull[j])
            while true {
                let next = j + 1 == n ? 0 : j + 1
                let h = cross(p, q, hull[next])
                guard h > height else { break }
                j = next
                height = h
            }
            let v = hull[j]
            diameter2 = max(diameter2, squaredDistance(p, v), squaredDistance(q, v))
            width = min(width, Double(height) / Double(squaredDistance(p, q)).squareRoot())
        }
        // Doubled coordinates: lengths halve (scikit-image takes √ of the squared distance).
        return ((Double(diameter2) / 4).squareRoot(), width / 2)
    }

    @inline(__always)
    static func squaredDistance(_ a: Point, _ b: Point) -> Int {
        (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)
    }
}
