/// Exact squared Euclidean distance from every pixel to the nearest pixel where `isSource` holds,
/// in pixels², as integers; `Int.max` everywhere when there is no source pixel.
///
/// Separable lower-envelope algorithm of Felzenszwalb & Huttenlocher: a 1-D pass down every column,
/// then along every row, in exact integer arithmetic (parallel over columns, then rows).
///
/// - Complexity: O(pixels).
///
/// ## References
/// - P. F. Felzenszwalb, D. P. Huttenlocher, "Distance transforms of sampled functions",
///   Theory of Computing 8:415–428, 2012, doi:10.4086/toc.2012.v008a019.
public func squaredDistanceTransform(width: Int, height: Int, isSource: (Int) -> Bool) -> [Int] {
    let infinity = Int.max / 4
    var grid = [Int](repeating: infinity, count: width * height)
    for i in 0..<grid.count where isSource(i) { grid[i] = 0 }
    guard grid.contains(0) else { return [Int](repeating: Int.max, count: width * height) }
    grid.withUnsafeMutableBufferPointer { g in
        let shared = SharedMutableBuffer(g.baseAddress!)
        parallelChunks(width, minimumChunk: 32) { columns in
            var f = [Int](repeating: 0, count: height), d = f
            var v = [Int](repeating: 0, count: height)
            for x in columns {
                for y in 0..<height { f[y] = shared[y * width + x] }
                lowerEnvelope(f, &d, &v, infinity)
                for y in 0..<height { shared[y * width + x] = d[y] }
            }
        }
        parallelChunks(height, minimumChunk: 32) { rows in
            var f = [Int](repeating: 0, count: width), d = f
            var v = [Int](repeating: 0, count: width)
            for y in rows {
                for x in 0..<width { f[x] = shared[y * width + x] }
                lowerEnvelope(f, &d, &v, infinity)
                for x in 0..<width { shared[y * width + x] = d[x] }
            }
        }
    }
    return grid
}

/// 1-D squared distance transform d(q) = min_p (q − p)² + f(p) by the lower envelope of parabolas.
/// Intersections are compared as exact fractions, so the result is exact for integer f.
@inline(__always)
func lowerEnvelope(_ f: [Int], _ d: inout [Int], _ v: inout [Int], _ infinity: Int) {
    let n = f.count
    // Only finite samples carry parabolas.
    var k = -1
    // Intersection of parabolas at q and p (q > p) as numerator / denominator (denominator 2(q − p) > 0).
    @inline(__always) func beyond(_ q: Int, _ p: Int, _ boundaryNum: Int, _ boundaryDen: Int) -> Bool {
        // s(q, p) ≤ boundary  ⇔  num·boundaryDen ≤ boundaryNum·den
        let num = (f[q] + q * q) - (f[p] + p * p), den = 2 * (q - p)
        return num * boundaryDen <= boundaryNum * den
    }
    var zNum = [Int](repeating: 0, count: n + 1), zDen = [Int](repeating: 1, count: n + 1)
    for q in 0..<n where f[q] < infinity {
        while k >= 0 {
            let p = v[k]
            if k > 0 && beyond(q, p, zNum[k], zDen[k]) { k -= 1 } else { break }
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
        // Advance while the next intersection lies at or before q: zNum/zDen ≤ q.
        while j < k && zNum[j + 1] <= q * zDen[j + 1] { j += 1 }
        let p = v[j]
        d[q] = (q - p) * (q - p) + f[p]
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
    return squaredDistanceTransform(width: mask.width, height: mask.height) { m[$0] == 0 }
        .map { $0 == Int.max ? .infinity : Double($0).squareRoot() }
}
