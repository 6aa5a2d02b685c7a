import Foundation

/// A displacement between the two pixels of a co-occurring pair: `Δrow` down, `Δcol` right.
public struct PixelOffset: Sendable, Hashable {
    public var rows: Int
    public var columns: Int

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
    }

    /// scikit-image's offset for `distance` pixels at `angleDegrees`:
    /// `(round(d·sin θ), round(d·cos θ))`, rounding each component half away from zero, rows
    /// growing downward (so 90° pairs a pixel with the one below it, and 45° with d = 2 gives (1, 1)).
    public init(distance: Int, angleDegrees: Double) {
        let theta = angleDegrees * Double.pi / 180
        rows = Int((sin(theta) * Double(distance)).rounded())
        columns = Int((cos(theta) * Double(distance)).rounded())
    }
}

/// Row-major integer grey levels of an image, 8-bit when every level fits in a byte (the
/// co-occurrence loops then read half the memory) or 16-bit.
public enum GreyLevelValues: Sendable {
    case uint8([UInt8])
    case uint16([UInt16])

    /// The number of values.
    public var count: Int {
        switch self {
        case .uint8(let v): v.count
        case .uint16(let v): v.count
        }
    }
}

/// The properties `graycoprops` computes from a normalised grey-level co-occurrence matrix `p`.
public enum GLCMProperty: String, Sendable, CaseIterable {
    /// Σ p(i,j)(i−j)²
    case contrast
    /// Σ p(i,j)|i−j|
    case dissimilarity
    /// Σ p(i,j)/(1+(i−j)²)
    case homogeneity
    /// Angular second moment Σ p(i,j)²
    case asm
    /// √ASM
    case energy
    /// Σ p(i,j)(i−μᵢ)(j−μⱼ)/(σᵢσⱼ); 1 when σᵢ or σⱼ < 1e-15
    case correlation
    /// μᵢ = Σ i·p(i,j)
    case mean
    /// Σ p(i,j)(i−μᵢ)²
    case variance
    /// √variance
    case std
    /// −Σ p ln p (natural log; 0·ln 0 = 0)
    case entropy
}

/// Grey-level co-occurrence statistics, computed as scikit-image 0.26's `graycomatrix` followed by
/// `graycoprops` define them, in one pass over the pixels and one over the nonzero matrix cells.
///
/// For each offset, pairs (v(r, c), v(r+Δr, c+Δc)) are counted where both pixels lie inside the
/// image (and inside the mask, when given: both pixels must be in it); `symmetric` adds the
/// transpose. Properties read the matrix normalised to sum 1, so they do not depend on normalisation.
///
/// Sums that scikit-image forms in floating point (moments, covariance, squared counts) are formed
/// here exactly in integers and divided once, so results agree with scikit-image to rounding
/// (|Δ| ≲ 1e-12) and are bit-identical for the same input on every run.
///
/// Dense matrices are used up to 1024 levels; above that the pairs are sorted and run-length
/// counted, so memory and time scale with the number of pixels, not with levels².
///
/// - Complexity: O(pixels · offsets) plus O(min(levels², pairs)) per offset.
///
/// ## References
/// - R. M. Haralick, K. Shanmugam, I. Dinstein, "Textural features for image classification",
///   IEEE Trans. SMC 3(6):610–621, 1973, doi:10.1109/TSMC.1973.4309314.
/// - scikit-image 0.26 `skimage.feature.graycomatrix`, `graycoprops`.
public enum GLCM {
    /// Largest `levels` for which a dense levels² matrix is used.
    public static let denseLevelLimit = 1024

    /// Properties for every offset.
    /// - Parameters:
    ///   - values: row-major grey levels, each `< levels`, `width · height` of them.
    ///   - mask: optional, same size; nonzero = inside.
    /// - Returns: `result[offsetIndex][property]`.
    /// - Throws: ``ImagingError`` for a value ≥ levels, a size mismatch, or an offset that leaves
    ///   no pair inside the image (or mask).
    public static func properties(
        values: GreyLevelValues, width: Int, height: Int, levels: Int, offsets: [PixelOffset], symmetric: Bool,
        mask: [UInt8]? = nil
    ) throws -> [[GLCMProperty: Double]] {
        try statistics(values: values, width: width, height: height, levels: levels, offsets: offsets,
                       symmetric: symmetric, mask: mask, marginals: false).map { $0.properties() }
    }

    /// Exact sums over the matrix of every offset (see ``properties(values:width:height:levels:offsets:symmetric:mask:)``
    /// for the arguments); `marginals` also collects the sum histogram and both marginals.
    static func statistics(
        values: GreyLevelValues, width: Int, height: Int, levels: Int, offsets: [PixelOffset], symmetric: Bool,
        mask: [UInt8]?, marginals: Bool
    ) throws -> [Statistics] {
        switch values {
        case .uint8(let v):
            try statistics(v, width, height, levels, offsets, symmetric, mask, marginals)
        case .uint16(let v):
            try statistics(v, width, height, levels, offsets, symmetric, mask, marginals)
        }
    }

    static func statistics<V: PixelComponent & FixedWidthInteger & UnsignedInteger>(
        _ values: [V], _ width: Int, _ height: Int, _ levels: Int, _ offsets: [PixelOffset], _ symmetric: Bool,
        _ mask: [UInt8]?, _ marginals: Bool
    ) throws -> [Statistics] {
        guard width * height == values.count else {
            throw ImagingError(.sizeMismatch, "expected \(width)×\(height) grey levels, got \(values.count)")
        }
        guard (2...65536).contains(levels) else {
            throw ImagingError(.invalidArgument, "levels must be 2 to 65536, got \(levels)")
        }
        if let mask, mask.count != values.count {
            throw ImagingError(.sizeMismatch, "the mask must be \(width)×\(height)")
        }
        if let maxValue = largest(values), Int(maxValue) >= levels {
            throw ImagingError(
                .invalidArgument,
                "the image has grey level \(maxValue) but levels is \(levels); raise levels above the maximum or quantise")
        }
        // Both pixels of a counted pair lie in the mask, so in its bounding box: a small region of
        // a large image is counted on its box alone.
        let (imageWidth, imageHeight) = (width, height)
        var (values, width, height, mask) = (values, width, height, mask)
        if let m = mask, let box = boundingBox(m, width, height), box.width * box.height <= width * height * 3 / 4 {
            values = try crop(values, width, height, box)
            mask = try crop(m, width, height, box)
            (width, height) = (box.width, box.height)
        }
        // With fewer offsets than cores, each 8-bit offset's rows are split into bands counted on
        // cores of their own and summed (exact: counts are integers). Each band clears and adds
        // a matrix of its own, about 0.1 ms: worth it from a megapixel on (2048², one angle, two
        // cores: 2.6–3.3 ms → 1.9–2.3 ms; on 512² it would lose 0.2 ms).
        let cores = Parallelism.threadsPerImage
        let bands = levels <= 256 && offsets.count < cores && width * height >= 1 << 20 ? cores / offsets.count : 1
        let banded = bands > 1 ? countInBands(values, width, height, levels, offsets, mask, bands: bands) : nil
        var results = [Statistics?](repeating: nil, count: offsets.count)
        var failure: ImagingError?
        let lock = NSLock()
        results.withUnsafeMutableBufferPointer { resultBuffer in
        let out = SharedMutableBuffer(resultBuffer.baseAddress!)
        values.withUnsafeBufferPointer { v in
            let vp = UncheckedSendable(v)
            let mp = UncheckedSendable(mask)
            parallelChunks(offsets.count, minimumChunk: 1) { range in
                for k in range {
                    let stats: Statistics
                    if let banded {
                        stats = matrixStatistics(banded[k], stride: 256, levels, symmetric, marginals)
                    } else if levels <= denseLevelLimit {
                        stats = denseStatistics(vp.value, width, height, levels, offsets[k], symmetric, mp.value, marginals)
                    } else {
                        stats = sparseStatistics(vp.value, width, height, levels, offsets[k], symmetric, mp.value, marginals)
                    }
                    if stats.pairs == 0 {
                        lock.withLock {
                            failure = ImagingError(
                                .invalidArgument,
                                "offset (\(offsets[k].rows), \(offsets[k].columns)) leaves no pixel pair inside the \(imageWidth)×\(imageHeight) image"
                                    + (mask == nil ? "" : " and mask") + "; use a shorter distance")
                        }
                        continue
                    }
                    out[k] = stats
                }
            }
        }
        }
        if let failure { throw failure }
        return results.map { $0! }
    }

    /// The count matrix of each offset (8-bit levels), its rows split into `bands` counted on all
    /// cores, then summed.
    static func countInBands<V: FixedWidthInteger & UnsignedInteger>(
        _ values: [V], _ width: Int, _ height: Int, _ levels: Int, _ offsets: [PixelOffset], _ mask: [UInt8]?, bands: Int
    ) -> [[UInt32]] {
        var partial = [[UInt32]](repeating: [], count: offsets.count * bands)
        partial.withUnsafeMutableBufferPointer { p in
            let out = SharedMutableBuffer(p.baseAddress!)
            values.withUnsafeBufferPointer { v in
                let vp = UncheckedSendable(v)
                parallelChunks(offsets.count * bands, minimumChunk: 1) { range in
                    for t in range {
                        let band = t % bands
                        out[t] = countPairs(vp.value, width, height, levels, offsets[t / bands], mask,
                                            rows: height * band / bands..<height * (band + 1) / bands)
                    }
                }
            }
        }
        return offsets.indices.map { k in
            var counts = partial[k * bands]
            for b in 1..<bands {
                let more = partial[k * bands + b]
                for i in counts.indices { counts[i] &+= more[i] }
            }
            return counts
        }
    }

    /// The smallest rectangle holding every nonzero mask pixel, nil for an empty mask.
    static func boundingBox(_ mask: [UInt8], _ width: Int, _ height: Int) -> (x: Int, y: Int, width: Int, height: Int)? {
        mask.withUnsafeBufferPointer { m in
            var x0 = width, x1 = -1, y0 = height, y1 = -1
            for y in 0..<height {
                let row = UnsafeBufferPointer(rebasing: m[y * width..<(y + 1) * width])
                var any: UInt8 = 0
                for v in row { any |= v }
                guard any != 0 else { continue }
                y0 = min(y0, y)
                y1 = y
                if let first = row.firstIndex(where: { $0 != 0 }) { x0 = min(x0, first) }
                if let last = row.lastIndex(where: { $0 != 0 }) { x1 = max(x1, last) }
            }
            return y1 < 0 ? nil : (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
        }
    }

    /// The `box` of a row-major single-channel image.
    static func crop<T: PixelComponent>(_ samples: [T], _ width: Int, _ height: Int, _ box: (x: Int, y: Int, width: Int, height: Int)) throws -> [T] {
        try Image(unchecked: width, height, 1, samples).cropped(x: box.x, y: box.y, width: box.width, height: box.height).pixels
    }

    /// The largest value, in a loop the compiler vectorises (`Sequence.max()` does not).
    static func largest<V: FixedWidthInteger & UnsignedInteger>(_ values: [V]) -> V? {
        guard !values.isEmpty else { return nil }
        return values.withUnsafeBufferPointer { v in
            var m: V = 0
            for x in v { m = max(m, x) }
            return m
        }
    }

    /// Exact integer sums over the matrix cells, from which every property follows.
    struct Statistics {
        var pairs: UInt64 = 0
        /// Counts by |i − j|.
        var byDifference: [UInt64]
        var sumSquares: UInt64 = 0
        var sumCLogC: Double = 0
        var sumI: UInt64 = 0, sumI2: UInt64 = 0
        var sumJ: UInt64 = 0, sumJ2: UInt64 = 0
        var sumIJ: UInt64 = 0
        /// With marginals: counts by i + j, by row i and by column j.
        var bySum: [UInt64] = [], rows: [UInt64] = [], columns: [UInt64] = []
        /// With marginals: Σ c·log₂c.
        var sumCLog2C: Double = 0
        let marginals: Bool

        init(levels: Int, marginals: Bool = false) {
            byDifference = [UInt64](repeating: 0, count: levels)
            self.marginals = marginals
            if marginals {
                bySum = [UInt64](repeating: 0, count: 2 * levels - 1)
                rows = [UInt64](repeating: 0, count: levels)
                columns = rows
            }
        }

        @inline(__always)
        mutating func add(_ i: Int, _ j: Int, _ c: UInt64) {
            pairs += c
            byDifference[abs(i - j)] += c
            if marginals {
                bySum[i + j] += c
                sumCLog2C += c < UInt64(cLog2CTable.count) ? cLog2CTable[Int(c)] : Double(c) * log2(Double(c))
                rows[i] += c
                columns[j] += c
            }
            sumSquares += c * c
            sumCLogC += c < UInt64(cLogCTable.count) ? cLogCTable[Int(c)] : Double(c) * log(Double(c))
            let ui = UInt64(i), uj = UInt64(j)
            sumI += c * ui
            sumI2 += c * ui * ui
            sumJ += c * uj
            sumJ2 += c * uj * uj
            sumIJ += c * ui * uj
        }

        func properties() -> [GLCMProperty: Double] {
            let n = Double(pairs)
            var contrast = 0.0, dissimilarity = 0.0, homogeneity = 0.0
            for (k, c) in byDifference.enumerated() where c != 0 {
                let kk = Double(k)
                contrast += Double(c) * kk * kk
                dissimilarity += Double(c) * kk
                homogeneity += Double(c) / (1 + kk * kk)
            }
            let asm = Double(sumSquares) / (n * n)
            // Central moments from exact integer numerators: (N·Σc·x·y − Σc·x · Σc·y) / N².
            let nn = Int128(pairs)
            let varI = double(nn * Int128(sumI2) - Int128(sumI) * Int128(sumI)) / (n * n)
            let varJ = double(nn * Int128(sumJ2) - Int128(sumJ) * Int128(sumJ)) / (n * n)
            let cov = double(nn * Int128(sumIJ) - Int128(sumI) * Int128(sumJ)) / (n * n)
            let sigmaI = varI.squareRoot(), sigmaJ = varJ.squareRoot()
            return [
                .contrast: contrast / n,
                .dissimilarity: dissimilarity / n,
                .homogeneity: homogeneity / n,
                .asm: asm,
                .energy: asm.squareRoot(),
                .correlation: sigmaI < 1e-15 || sigmaJ < 1e-15 ? 1 : cov / (sigmaI * sigmaJ),
                .mean: Double(sumI) / n,
                .variance: varI,
                .std: sigmaI,
                .entropy: log(n) - sumCLogC / n,
            ]
        }
    }

    /// `c·ln c` and `c·log₂c` for small counts, the very values the formula gives (0 for c = 0):
    /// most matrix cells hold small counts, and a table read costs far less than a logarithm.
    static let cLogCTable: [Double] = (0..<4096).map { $0 == 0 ? 0 : Double($0) * log(Double($0)) }
    static let cLog2CTable: [Double] = (0..<4096).map { $0 == 0 ? 0 : Double($0) * log2(Double($0)) }

    /// Converts a 128-bit integer to the nearest `Double`.
    static func double(_ x: Int128) -> Double {
        let negative = x < 0
        let m = negative ? UInt128(-x) : UInt128(x)
        let v = Double(UInt64(truncatingIfNeeded: m >> 64)) * 0x1p64 + Double(UInt64(truncatingIfNeeded: m))
        return negative ? -v : v
    }

    /// Calls `body(i, j)` for every counted pair at `offset`.
    @inline(__always)
    static func forEachPair<V: FixedWidthInteger & UnsignedInteger>(
        _ v: UnsafeBufferPointer<V>, _ width: Int, _ height: Int, _ offset: PixelOffset, _ mask: [UInt8]?,
        _ body: (Int, Int) -> Void
    ) {
        let dr = offset.rows, dc = offset.columns
        let r0 = max(0, -dr), r1 = min(height, height - dr)
        let c0 = max(0, -dc), c1 = min(width, width - dc)
        guard r0 < r1, c0 < c1 else { return }
        let shift = dr * width + dc
        if let mask {
            mask.withUnsafeBufferPointer { m in
                for r in r0..<r1 {
                    let row = r * width
                    for c in c0..<c1 where m[row + c] != 0 && m[row + c + shift] != 0 {
                        body(Int(v[row + c]), Int(v[row + c + shift]))
                    }
                }
            }
        } else {
            for r in r0..<r1 {
                let row = r * width
                for c in c0..<c1 { body(Int(v[row + c]), Int(v[row + c + shift])) }
            }
        }
    }

    static func denseStatistics<V: FixedWidthInteger & UnsignedInteger>(
        _ v: UnsafeBufferPointer<V>, _ width: Int, _ height: Int, _ levels: Int, _ offset: PixelOffset,
        _ symmetric: Bool, _ mask: [UInt8]?, _ marginals: Bool
    ) -> Statistics {
        var counts: [UInt32]
        let stride: Int
        if levels <= 256 {
            counts = countPairs(v, width, height, levels, offset, mask)
            stride = 256
        } else {
            counts = [UInt32](repeating: 0, count: levels * levels)
            counts.withUnsafeMutableBufferPointer { cp in
                forEachPair(v, width, height, offset, mask) { i, j in cp[i * levels + j] &+= 1 }
            }
            stride = levels
        }
        return matrixStatistics(counts, stride: stride, levels, symmetric, marginals)
    }

    /// The sums over a count matrix whose row i starts at `i · stride`.
    static func matrixStatistics(_ counts: [UInt32], stride: Int, _ levels: Int, _ symmetric: Bool, _ marginals: Bool) -> Statistics {
        var stats = Statistics(levels: levels, marginals: marginals)
        counts.withUnsafeBufferPointer { cp in
            if symmetric {
                for i in 0..<levels {
                    let diagonal = UInt64(cp[i * stride + i]) * 2
                    if diagonal != 0 { stats.add(i, i, diagonal) }
                    for j in (i + 1)..<max(i + 1, levels) {
                        let c = UInt64(cp[i * stride + j]) + UInt64(cp[j * stride + i])
                        if c != 0 {
                            stats.add(i, j, c)
                            stats.add(j, i, c)
                        }
                    }
                }
            } else {
                for i in 0..<levels {
                    for j in 0..<levels {
                        let c = UInt64(cp[i * stride + j])
                        if c != 0 { stats.add(i, j, c) }
                    }
                }
            }
        }
        return stats
    }

    /// The count matrix at `offset` over the whole image (or over the pairs whose first pixel
    /// lies in `rows`), for up to 256 levels, as 256 × 256 counters (row i, column j at
    /// `i << 8 | j`; rows and columns from `levels` on stay 0).
    ///
    /// Each image row first becomes a row of 16-bit keys `i << 8 | j` (a loop the compiler
    /// vectorises), then one counter per key is incremented. A single matrix is fastest here:
    /// the processor forwards a store to the next load of the same counter, so runs of one pair
    /// do not stall, and one 256 KiB matrix stays in a core's L2. On the 2048² bench field
    /// (four offsets, two cores, 8-bit levels) the `glcm` extractor took 13.8 ms with four
    /// interleaved matrices indexed from the pixels and takes about 6 ms this way; the increments
    /// are four fifths of that.
    ///
    /// With a mask, each pair adds 1 when both its pixels are inside and 0 otherwise, so the
    /// loops stay free of branches (on the bench field with a mask over 83% of it: 13–15 ms with a
    /// branch per pair, 7.4–8.4 ms this way).
    static func countPairs<V: FixedWidthInteger & UnsignedInteger>(
        _ v: UnsafeBufferPointer<V>, _ width: Int, _ height: Int, _ levels: Int, _ offset: PixelOffset,
        _ mask: [UInt8]?, rows: Range<Int>? = nil
    ) -> [UInt32] {
        precondition(levels <= 256, "countPairs keys a pair by two 8-bit levels")
        var counts = [UInt32](repeating: 0, count: 65536)
        let dr = offset.rows, dc = offset.columns
        let r0 = max(0, -dr, rows?.lowerBound ?? 0), r1 = min(height, height - dr, rows?.upperBound ?? height)
        let c0 = max(0, -dc), c1 = min(width, width - dc)
        guard r0 < r1, c0 < c1, let pixels = v.baseAddress else { return counts }
        let shift = dr * width + dc, n = c1 - c0
        counts.withUnsafeMutableBufferPointer { cp in
            let h = cp.baseAddress!
            if let mask {
                let keys = UnsafeMutablePointer<UInt16>.allocate(capacity: n)
                let inside = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
                defer { keys.deallocate(); inside.deallocate() }
                mask.withUnsafeBufferPointer { mp in
                    let m = mp.baseAddress!
                    for r in r0..<r1 {
                        let a = pixels + r * width + c0, b = a + shift
                        let ma = m + r * width + c0, mb = ma + shift
                        for c in 0..<n { keys[c] = UInt16(truncatingIfNeeded: a[c]) &<< 8 | UInt16(truncatingIfNeeded: b[c]) }
                        for c in 0..<n { inside[c] = min(ma[c], mb[c]) != 0 ? 1 : 0 }
                        for c in 0..<n { h[Int(keys[c])] &+= UInt32(inside[c]) }
                    }
                }
            } else {
                let keys = UnsafeMutablePointer<UInt16>.allocate(capacity: n)
                defer { keys.deallocate() }
                for r in r0..<r1 {
                    let a = pixels + r * width + c0, b = a + shift
                    for c in 0..<n { keys[c] = UInt16(truncatingIfNeeded: a[c]) &<< 8 | UInt16(truncatingIfNeeded: b[c]) }
                    for c in 0..<n { h[Int(keys[c])] &+= 1 }
                }
            }
        }
        return counts
    }

    static func sparseStatistics<V: FixedWidthInteger & UnsignedInteger>(
        _ v: UnsafeBufferPointer<V>, _ width: Int, _ height: Int, _ levels: Int, _ offset: PixelOffset,
        _ symmetric: Bool, _ mask: [UInt8]?, _ marginals: Bool
    ) -> Statistics {
        var keys: [UInt32] = []
        keys.reserveCapacity(width * height * (symmetric ? 2 : 1))
        forEachPair(v, width, height, offset, mask) { i, j in
            keys.append(UInt32(i) << 16 | UInt32(j))
            if symmetric { keys.append(UInt32(j) << 16 | UInt32(i)) }
        }
        keys.sort()
        var stats = Statistics(levels: levels, marginals: marginals)
        var k = 0
        while k < keys.count {
            var e = k + 1
            while e < keys.count && keys[e] == keys[k] { e += 1 }
            stats.add(Int(keys[k] >> 16), Int(keys[k] & 0xFFFF), UInt64(e - k))
            k = e
        }
        return stats
    }
}
