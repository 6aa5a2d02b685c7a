/// Exact squared Euclidean distance from every pixel to the nearest pixel where `isSource` holds,
/// in pixels², as integers; `Int.max` everywhere when there is no source pixel.
///
/// Separable algorithm of Felzenszwalb & Huttenlocher in exact integer arithmetic: down the
/// columns the distance to the nearest source is found by a top-down and a bottom-up sweep over
/// whole rows (for binary sources this is the 1-D transform, and sweeping rows keeps memory access
/// sequential); along every row, the lower envelope of parabolas (parallel over rows).
///
/// `isSource` is called once per pixel from several threads, so it must only read.
///
/// - Complexity: O(pixels).
///
/// ## References
/// - P. F. Felzenszwalb, D. P. Huttenlocher, "Distance transforms of sampled functions",
///   Theory of Computing 8:415–428, 2012, doi:10.4086/toc.2012.v008a019.
public func squaredDistanceTransform(width: Int, height: Int, isSource: (Int) -> Bool) -> [Int] {
    let infinity = Int.max / 4
    guard var grid = ColumnSweep(width: width, height: height, isSource: isSource, keepRows: false) else {
        return [Int](repeating: Int.max, count: width * height)
    }
    grid.squared.withUnsafeMutableBufferPointer { g in
        let shared = SharedMutableBuffer(g.baseAddress!)
        parallelChunks(height, minimumChunk: 32) { rows in
            let scratch = EnvelopeScratch(width)
            for y in rows {
                let line = shared.base + y * width
                scratch.f.update(from: line, count: width)
                scratch.run(infinity)
                line.update(from: scratch.d, count: width)
            }
        }
    }
    return grid.squared
}

/// The column pass shared by the distance and feature transforms, for binary sources: per pixel,
/// the squared distance to the nearest source in its column (`Int.max / 4` when the column has
/// none) and, when asked, that source's row. Of two equidistant sources the lower one (larger row)
/// is taken, as the lower envelope of their parabolas does.
struct ColumnSweep {
    var squared: [Int]
    /// Row of the nearest source in the column (valid where `squared` is finite).
    var nearestRow: [Int]

    /// nil when no pixel is a source.
    init?(width w: Int, height h: Int, isSource: (Int) -> Bool, keepRows: Bool) {
        let infinity = Int.max / 4
        var squared = [Int](repeating: infinity, count: w * h)
        var nearest = keepRows ? [Int](repeating: 0, count: w * h) : []
        // Blocks of columns on all cores, each swept top-down (the nearest source at or above,
        // kept in the block's own rows of `above`), then bottom-up (the nearest at or below wins ties).
        let blockWidth = 64
        let blocks = (w + blockWidth - 1) / blockWidth
        var found = [Bool](repeating: false, count: blocks)
        squared.withUnsafeMutableBufferPointer { s in
            nearest.withUnsafeMutableBufferPointer { r in
                found.withUnsafeMutableBufferPointer { f in
                    let s = SharedMutableBuffer(s.baseAddress!), r = UncheckedSendable(r.baseAddress)
                    let f = SharedMutableBuffer(f.baseAddress!)
                    parallelChunks(blocks, minimumChunk: 1) { range in
                        let above = UnsafeMutablePointer<Int32>.allocate(capacity: blockWidth * h)
                        let below = UnsafeMutablePointer<Int32>.allocate(capacity: blockWidth)
                        defer { above.deallocate(); below.deallocate() }
                        for block in range {
                            let x0 = block * blockWidth, bw = Swift.min(blockWidth, w - x0)
                            var any = false
                            for y in 0..<h {
                                let row = y * w + x0, a = above + y * blockWidth
                                for x in 0..<bw {
                                    if isSource(row + x) {
                                        a[x] = Int32(y)
                                        any = true
                                    } else {
                                        a[x] = y > 0 ? a[x - blockWidth] : -1
                                    }
                                }
                            }
                            f[block] = any
                            guard any else { continue }
                            below.initialize(repeating: -1, count: bw)
                            for y in stride(from: h - 1, through: 0, by: -1) {
                                let row = y * w + x0, a = above + y * blockWidth
                                for x in 0..<bw {
                                    let up = Int(a[x])
                                    if up == y { below[x] = Int32(y) }
                                    let down = Int(below[x])
                                    var nearestRow = -1
                                    if down >= 0 && (up < 0 || down - y <= y - up) {
                                        nearestRow = down
                                    } else if up >= 0 {
                                        nearestRow = up
                                    }
                                    if nearestRow >= 0 {
                                        s[row + x] = (nearestRow - y) * (nearestRow - y)
                                        if keepRows { r.value![row + x] = nearestRow }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard found.contains(true) else { return nil }
        self.squared = squared
        self.nearestRow = nearest
    }
}

/// Buffers for the 1-D lower-envelope transform on lines of one length, reused line after line
/// (owned by one thread).
final class EnvelopeScratch {
    let n: Int
    /// Input samples and output distances.
    let f: UnsafeMutablePointer<Int>, d: UnsafeMutablePointer<Int>
    /// For every output sample, the input sample that attains its minimum.
    let arg: UnsafeMutablePointer<Int>
    /// Parabola vertices and the start of each one's interval as numerator / denominator.
    let v: UnsafeMutablePointer<Int>, zNum: UnsafeMutablePointer<Int>, zDen: UnsafeMutablePointer<Int>

    init(_ n: Int) {
        self.n = n
        f = .allocate(capacity: n)
        d = .allocate(capacity: n)
        arg = .allocate(capacity: n)
        v = .allocate(capacity: n)
        zNum = .allocate(capacity: n + 1)
        zNum.initialize(repeating: 0, count: n + 1)
        zDen = .allocate(capacity: n + 1)
        zDen.initialize(repeating: 1, count: n + 1)
    }

    deinit {
        for p in [f, d, arg, v, zNum, zDen] { p.deallocate() }
    }

    /// 1-D squared distance transform d(q) = min_p (q − p)² + f(p) by the lower envelope of
    /// parabolas (finite samples only). Intersections are compared as exact fractions, so the
    /// result is exact for integer f; `arg` gets the minimising p.
    @inline(__always)
    func run(_ infinity: Int) {
        let f = self.f, v = self.v, zNum = self.zNum, zDen = self.zDen
        var k = -1
        for q in 0..<n where f[q] < infinity {
            // Pop parabolas whose interval starts at or after the intersection with q's parabola:
            // s(q, p) ≤ z[k]  ⇔  num·zDen[k] ≤ zNum[k]·den  (den = 2(q − p) > 0).
            while k > 0 {
                let p = v[k]
                let num = (f[q] + q * q) - (f[p] + p * p), den = 2 * (q - p)
                if num * zDen[k] <= zNum[k] * den { k -= 1 } else { break }
            }
            if k >= 0 {
                let p = v[k]
                k += 1
                v[k] = q
                zNum[k] = (f[q] + q * q) - (f[p] + p * p)
                zDen[k] = 2 * (q - p)
            } else {
                k = 0
                v[0] = q
            }
        }
        guard k >= 0 else {
            for q in 0..<n { d[q] = infinity }
            return
        }
        var j = 0
        for q in 0..<n {
            // Advance while the next parabola's interval starts at or before q.
            while j < k && zNum[j + 1] <= q * zDen[j + 1] { j += 1 }
            let p = v[j]
            d[q] = (q - p) * (q - p) + f[p]
            arg[q] = p
        }
    }
}

/// scipy `ndimage.distance_transform_edt(mask)`: for every nonzero pixel the Euclidean distance
/// (in pixels) to the nearest zero pixel; 0 on zero pixels; +∞ everywhere when the mask has no zero.
/// - Throws: ``ImagingError`` for a multi-channel mask.
public func distanceTransform(_ mask: Image<UInt8>) throws -> [Double] {
    guard mask.channels == 1 else {
        throw ImagingError(.channelCount, "the distance transform needs a one-channel mask, got \(mask.channels)")
    }
    let m = mask.pixels
    return m.withUnsafeBufferPointer { p in
        squaredDistanceTransform(width: mask.width, height: mask.height) { p[$0] == 0 }
    }.map { $0 == Int.max ? .infinity : Double($0).squareRoot() }
}
