/// The connected components of a mask, as the runs of pixels along its rows: what
/// ``NucleusDetector`` needs to split each component in its own box without a label image, and
/// what ``labelComponents(_:connectivity:)`` paints.
///
/// Runs are found row by row, joined to the runs of the row above that they touch (columns
/// overlapping, or also diagonal for 8-connectivity) with union–find, and numbered 1…n in raster
/// order of each component's first pixel, as scikit-image's `measure.label` numbers them.
///
/// ## References
/// - K. Wu, E. Otoo, K. Suzuki, "Optimizing two-pass connected-component labeling algorithms",
///   Pattern Anal. Appl. 12:117–135, 2009, doi:10.1007/s10044-008-0109-y (run-based union–find).
struct ComponentRuns {
    /// Pixels `first…last` of one row.
    struct Run {
        var row: Int32, first: Int32, last: Int32
    }

    /// Components 1…count.
    let count: Int
    /// The runs grouped by component, each component's in raster order: component c's are
    /// `runs[start[c]..<start[c + 1]]` (`start[0]` and `start[1]` are 0).
    let runs: [Run]
    let start: [Int]
    /// Bounding box of component c, inclusive (index 0 unused).
    let minX: [Int], maxX: [Int], minY: [Int], maxY: [Int]

    /// The components of the nonzero pixels of a one-channel mask.
    init(_ mask: Image<UInt8>, connectivity: Connectivity = .eight) {
        let (runs, rowStart) = mask.withUnsafeSamples {
            Self.runs(of: $0.baseAddress!, width: mask.width, height: mask.height, stride: mask.width, foreground: true)
        }
        self.init(runs: runs, rowStart: rowStart, height: mask.height, connectivity: connectivity)
    }

    /// The components of the nonzero pixels of a mask with its holes filled
    /// (`ndimage.binary_fill_holes`: background not 4-connected to the border is foreground).
    ///
    /// The background's runs are joined 4-connected (columns overlapping); those of components
    /// that reach the border are the outside, and each row's filled foreground is what lies
    /// between them — no flood over the background's pixels.
    /// - Parameter mask: `width × height` samples, rows `stride` apart.
    static func filled(_ mask: UnsafePointer<UInt8>, width w: Int, height h: Int, stride: Int) -> ComponentRuns {
        let (gaps, gapStart) = runs(of: mask, width: w, height: h, stride: stride, foreground: false)
        let parent = unite(gaps, rowStart: gapStart, height: h, widen: 0)
        var outside = [Bool](repeating: false, count: gaps.count)
        for (k, run) in gaps.enumerated() where run.row == 0 || Int(run.row) == h - 1 || run.first == 0 || Int(run.last) == w - 1 {
            outside[Int(parent[k])] = true
        }
        var runs: [Run] = []
        runs.reserveCapacity(gaps.count + h)
        var rowStart = [Int](repeating: 0, count: h + 1)
        for y in 0..<h {
            rowStart[y] = runs.count
            var x: Int32 = 0
            for k in gapStart[y]..<gapStart[y + 1] where outside[Int(parent[k])] {
                if gaps[k].first > x { runs.append(Run(row: Int32(y), first: x, last: gaps[k].first - 1)) }
                x = gaps[k].last + 1
            }
            if Int(x) < w { runs.append(Run(row: Int32(y), first: x, last: Int32(w - 1))) }
        }
        rowStart[h] = runs.count
        return ComponentRuns(runs: runs, rowStart: rowStart, height: h, connectivity: .eight)
    }

    /// Component c as labels: `label` on its pixels in `labels` (row-major, `width` wide).
    func paint(_ c: Int, _ label: Int32, into labels: inout [Int32], width: Int) {
        for run in runs[start[c]..<start[c + 1]] {
            for x in Int(run.first)...Int(run.last) { labels[Int(run.row) * width + x] = label }
        }
    }

    /// The runs of foreground (nonzero) or background (zero) pixels, row by row (skipping eight
    /// bytes of the other kind at a time), and where each row's runs begin (`h + 1` entries).
    private static func runs(of mask: UnsafePointer<UInt8>, width w: Int, height h: Int, stride: Int,
                             foreground: Bool) -> (runs: [Run], rowStart: [Int]) {
        var found: [Run] = []
        found.reserveCapacity(Swift.min(4096, 4 * h))
        var rowStart = [Int](repeating: 0, count: h + 1)
        @inline(__always) func inside(_ v: UInt8) -> Bool { (v != 0) == foreground }
        for y in 0..<h {
            rowStart[y] = found.count
            let row = mask + y * stride
            var x = 0
            while x < w {
                if foreground {
                    while x + 8 <= w && UnsafeRawPointer(row + x).loadUnaligned(as: UInt64.self) == 0 { x += 8 }
                } else {
                    while x + 8 <= w && Self.allNonzero(UnsafeRawPointer(row + x).loadUnaligned(as: UInt64.self)) { x += 8 }
                }
                while x < w && !inside(row[x]) { x += 1 }
                guard x < w else { break }
                let first = x
                while x < w && inside(row[x]) { x += 1 }
                found.append(Run(row: Int32(y), first: Int32(first), last: Int32(x - 1)))
            }
        }
        rowStart[h] = found.count
        return (found, rowStart)
    }

    /// Whether all eight bytes of a word are nonzero (no zero byte: the classic has-zero test).
    @inline(__always)
    private static func allNonzero(_ v: UInt64) -> Bool {
        (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080 == 0
    }

    /// Union–find over runs: a run joins those of the row above whose columns overlap its own
    /// widened by `widen` (1: 8-connectivity, 0: 4-connectivity). Every run's entry is its root,
    /// the smallest run index of its component (the first in raster order).
    private static func unite(_ found: [Run], rowStart: [Int], height h: Int, widen: Int32) -> [Int32] {
        var parent = [Int32](unsafeUninitializedCapacity: found.count) { p, n in
            for k in 0..<found.count { p[k] = Int32(k) }
            n = found.count
        }
        parent.withUnsafeMutableBufferPointer { parent in
            func find(_ k: Int32) -> Int32 {
                var k = k
                while parent[Int(k)] != k {
                    parent[Int(k)] = parent[Int(parent[Int(k)])]
                    k = parent[Int(k)]
                }
                return k
            }
            for y in 1..<max(1, h) {
                var above = rowStart[y - 1]
                let aboveEnd = rowStart[y]
                for k in rowStart[y]..<rowStart[y + 1] {
                    let run = found[k]
                    while above < aboveEnd && found[above].last < run.first - widen { above += 1 }
                    var j = above
                    while j < aboveEnd && found[j].first <= run.last + widen {
                        let a = find(Int32(k)), b = find(Int32(j))
                        if a != b { parent[Int(max(a, b))] = min(a, b) }
                        j += 1
                    }
                }
            }
            // Flatten: roots come before their runs, so one forward pass suffices.
            for k in 0..<parent.count { parent[k] = parent[Int(parent[k])] }
        }
        return parent
    }

    /// Numbers the components of `found` and groups the runs by component.
    private init(runs found: [Run], rowStart: [Int], height h: Int, connectivity: Connectivity) {
        let parent = Self.unite(found, rowStart: rowStart, height: h, widen: connectivity == .eight ? 1 : 0)
        // Components numbered by their first run (raster order), then runs grouped by component.
        var number = [Int32](repeating: 0, count: found.count)
        var next = 0
        for k in 0..<found.count {
            let root = Int(parent[k])
            if root == k {
                next += 1
                number[k] = Int32(next)
            } else {
                number[k] = number[root]
            }
        }
        count = next
        var start = [Int](repeating: 0, count: next + 2)
        for k in 0..<found.count { start[Int(number[k]) + 1] += 1 }
        for c in 0...next { start[c + 1] += start[c] }
        var grouped = found
        var fill = start
        var minX = [Int](repeating: .max, count: next + 1), maxX = [Int](repeating: -1, count: next + 1)
        var minY = [Int](repeating: .max, count: next + 1), maxY = [Int](repeating: -1, count: next + 1)
        for k in 0..<found.count {
            let c = Int(number[k]), run = found[k]
            grouped[fill[c]] = run
            fill[c] += 1
            minX[c] = Swift.min(minX[c], Int(run.first))
            maxX[c] = Swift.max(maxX[c], Int(run.last))
            minY[c] = Swift.min(minY[c], Int(run.row))
            maxY[c] = Swift.max(maxY[c], Int(run.row))
        }
        runs = grouped
        self.start = start
        self.minX = minX
        self.maxX = maxX
        self.minY = minY
        self.maxY = maxY
    }
}
