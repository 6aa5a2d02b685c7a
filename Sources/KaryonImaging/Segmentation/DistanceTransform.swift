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
        /// The 1-D transform of `lines` lines of `length` samples; sample k of line l is at
        /// `l·lineStep + k·sampleStep`.
        func pass(lines: Int, length: Int, lineStep: Int, sampleStep: Int) {
            parallelChunks(lines, minimumChunk: 32) { chunk in
                var scratch = EnvelopeScratch(length)
                for l in chunk {
                    for k in 0..<length { scratch.f[k] = shared[l * lineStep + k * sampleStep] }
                    lowerEnvelope(&scratch, infinity)
                    for k in 0..<length { shared[l * lineStep + k * sampleStep] = scratch.d[k] }
                }
            }
        }
        pass(lines: width, length: height, lineStep: 1, sampleStep: width)  // columns
        pass(lines: height, length: width, lineStep: width, sampleStep: 1)  // rows
    }
    return grid
}

/// Buffers for ``lowerEnvelope(_:_:)`` on lines of one length, reused line after line.
struct EnvelopeScratch {
    /// Input samples and output distances.
    var f: [Int], d: [Int]
    /// For every output sample, the input sample that attains its minimum.
    var arg: [Int]
    /// Parabola vertices and the start of each one's interval as numerator / denominator.
    var v: [Int], zNum: [Int], zDen: [Int]

    init(_ n: Int) {
        f = [Int](repeating: 0, count: n)
        d = f
        arg = f
        v = f
        zNum = [Int](repeating: 0, count: n + 1)
        zDen = [Int](repeating: 1, count: n + 1)
    }
}

/// 1-D squared distance transform d(q) = min_p (q − p)² + f(p) by the lower envelope of parabolas
/// (finite samples only). Intersections are compared as exact fractions, so the result is exact
/// for integer f.
@inline(__always)
func lowerEnvelope(_ s: inout EnvelopeScratch, _ infinity: Int) {
    let n = s.f.count
    var k = -1
    for q in 0..<n where s.f[q] < infinity {
        // Pop parabolas whose interval starts at or after the intersection with q's parabola:
        // s(q, p) ≤ z[k]  ⇔  num·zDen[k] ≤ zNum[k]·den  (den = 2(q − p) > 0).
        while k > 0 {
            let p = s.v[k]
            let num = (s.f[q] + q * q) - (s.f[p] + p * p), den = 2 * (q - p)
            if num * s.zDen[k] <= s.zNum[k] * den { k -= 1 } else { break }
        }
        if k >= 0 {
            let p = s.v[k]
            k += 1
            s.v[k] = q
            s.zNum[k] = (s.f[q] + q * q) - (s.f[p] + p * p)
            s.zDen[k] = 2 * (q - p)
        } else {
            k = 0
            s.v[0] = q
        }
    }
    guard k >= 0 else {
        for q in 0..<n { s.d[q] = infinity }
        return
    }
    var j = 0
    for q in 0..<n {
        // Advance while the next parabola's interval starts at or before q.
        while j < k && s.zNum[j + 1] <= q * s.zDen[j + 1] { j += 1 }
        let p = s.v[j]
        s.d[q] = (q - p) * (q - p) + s.f[p]
        s.arg[q] = p
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
