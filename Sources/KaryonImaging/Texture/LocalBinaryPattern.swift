import Foundation

/// How a circular neighbourhood's thresholded samples become a code (scikit-image's `method`).
public enum LBPMethod: String, Sendable, CaseIterable {
    /// Σ sᵢ·2ⁱ: grey-scale invariant, not rotation invariant. Codes 0 ..< 2ᴾ.
    case `default`
    /// The smallest of the P bit rotations of the default code: rotation invariant.
    case ror
    /// Number of ones for patterns with at most two 0/1 changes, P + 1 otherwise. Codes 0 … P + 1.
    case uniform
    /// Non-rotation-invariant uniform patterns (Ahonen et al.): P(P − 1) + 3 codes.
    case nriUniform = "nri-uniform"
}

/// Local binary patterns exactly as scikit-image 0.26 `local_binary_pattern(image, P, R, method)`
/// computes them, bit for bit.
///
/// Sample i of P lies at `(r + rpᵢ, c + cpᵢ)` with `rpᵢ = round(−R·sin(2πi/P), 5)`,
/// `cpᵢ = round(R·cos(2πi/P), 5)`; its value is bilinearly interpolated in float64 with the
/// same operation order as scikit-image (`top = (1−dc)·tl + dc·tr`, `bottom = …`,
/// `(1−dr)·top + dr·bottom`), samples outside the image reading 0. Bit i is set when
/// `sample − centre ≥ 0`. The `uniform` method counts 0/1 changes between consecutive samples
/// 0…P−1 without the wrap-around from P−1 to 0, as scikit-image does.
///
/// The fractional weights are tabulated per row and per column (they depend on the absolute
/// position through the rounding of `r + rpᵢ`), the interior runs without bounds checks, and
/// for P ≤ 16 the pattern → code map is a lookup table.
///
/// - Complexity: O(pixels · P), parallel over rows.
///
/// ## References
/// - T. Ojala, M. Pietikäinen, T. Mäenpää, "Multiresolution gray-scale and rotation invariant
///   texture classification with local binary patterns", IEEE TPAMI 24(7):971–987, 2002,
///   doi:10.1109/TPAMI.2002.1017623.
/// - T. Ahonen, A. Hadid, M. Pietikäinen, "Face description with local binary patterns",
///   IEEE TPAMI 28(12):2037–2041, 2006, doi:10.1109/TPAMI.2006.244.
/// - scikit-image 0.26 `skimage.feature.local_binary_pattern`.
public struct LocalBinaryPattern: Sendable {
    public let points: Int
    public let radius: Double
    public let method: LBPMethod
    /// Row and column offsets of the samples, rounded to 5 decimals as scikit-image does.
    public let sampleOffsets: [(rows: Double, columns: Double)]
    /// Pattern (bit i = sample i) → code, for P ≤ 16.
    let table: [UInt32]

    /// - Throws: ``ImagingError`` unless 1 ≤ points ≤ 31 and 0 < radius ≤ 1024 (finite).
    public init(points: Int, radius: Double, method: LBPMethod) throws {
        guard (1...31).contains(points) else {
            throw ImagingError(.invalidArgument, "LBP points must be 1 to 31, got \(points)")
        }
        guard radius.isFinite, radius > 0, radius <= 1024 else {
            throw ImagingError(.invalidArgument, "LBP radius must be in (0, 1024], got \(radius)")
        }
        self.points = points
        self.radius = radius
        self.method = method
        sampleOffsets = (0..<points).map { i in
            let angle = 2 * Double.pi * Double(i) / Double(points)
            return (Self.round5(-radius * sin(angle)), Self.round5(radius * cos(angle)))
        }
        if points <= 16 {
            let p = points
            table = (0..<(1 << p)).map { Self.code(pattern: UInt32($0), points: p, method: method) }
        } else {
            table = []
        }
    }

    /// NumPy's `round(x, 5)`: `rint(x·10⁵) / 10⁵`.
    static func round5(_ x: Double) -> Double {
        (x * 1e5).rounded(.toNearestOrEven) / 1e5
    }

    /// Number of distinct codes the method can produce: codes lie in `0 ..< codeRange`.
    public var codeRange: Int {
        switch method {
        case .default, .ror: return 1 << points
        case .uniform: return points + 2
        case .nriUniform: return points * (points - 1) + 3
        }
    }

    /// The codes the method can produce, ascending (for `ror`, the minimal rotations only).
    public var possibleCodes: [Int] {
        guard method == .ror else { return Array(0..<codeRange) }
        return (0..<codeRange).filter { Int(Self.code(pattern: UInt32($0), points: points, method: .ror)) == $0 }
    }

    /// The code of a thresholded pattern (bit i = sample i ≥ centre), as scikit-image computes it.
    public static func code(pattern: UInt32, points p: Int, method: LBPMethod) -> UInt32 {
        switch method {
        case .default:
            return pattern
        case .ror:
            var best = pattern, v = pattern
            for _ in 1..<max(p, 1) {
                v = (v >> 1) | ((v & 1) << (p - 1))
                best = min(best, v)
            }
            return best
        case .uniform, .nriUniform:
            let adjacent: UInt32 = p > 1 ? (1 << (p - 1)) - 1 : 0
            let changes = ((pattern ^ (pattern >> 1)) & adjacent).nonzeroBitCount
            let ones = pattern.nonzeroBitCount
            if method == .uniform {
                return changes <= 2 ? UInt32(ones) : UInt32(p + 1)
            }
            guard changes <= 2 else { return UInt32(p * (p - 1) + 2) }
            if ones == 0 { return 0 }
            if ones == p { return UInt32(p * (p - 1) + 1) }
            let firstOne = pattern.trailingZeroBitCount
            let firstZero = (~pattern).trailingZeroBitCount
            let rotation = firstOne == 0 ? ones - firstZero : p - firstOne
            return UInt32(1 + (ones - 1) * p + rotation)
        }
    }

    /// The code of every pixel, row-major: `local_binary_pattern(image, P, R, method)` on the
    /// image's float64 values.
    /// - Throws: ``ImagingError`` unless the image has one channel of finite values.
    @_specialize(exported: true, where P == UInt8)
    @_specialize(exported: true, where P == UInt16)
    @_specialize(exported: true, where P == Float)
    public func codes<P: PixelComponent>(_ image: Image<P>) throws -> [UInt32] {
        let image = try checked(image)
        let kernel = Kernel(self, image.width, image.height)
        var out = [UInt32](repeating: 0, count: image.pixelCount)
        let width = image.width
        out.withUnsafeMutableBufferPointer { o in
            let shared = SharedMutableBuffer(o.baseAddress!)
            image.withUnsafeSamples { v in
                let source = UncheckedSendable(v)
                parallelChunks(image.height, minimumChunk: 8) { rows in
                    kernel.forEach(source.value, rows, columns: 0..<width) { index, code in shared[index] = code }
                }
            }
        }
        return out
    }

    /// Counts of each code over the pixels inside `mask` (all pixels without one), indexed by
    /// code (`codeRange` entries). With `excludeBorder`, only pixels whose P samples all lie
    /// inside the image are counted.
    /// - Throws: ``ImagingError`` unless the image has one channel of finite values and the mask
    ///   (one channel, nonzero = inside) has the image's size.
    @_specialize(exported: true, where P == UInt8)
    @_specialize(exported: true, where P == UInt16)
    @_specialize(exported: true, where P == Float)
    public func histogram<P: PixelComponent>(
        _ image: Image<P>, mask: Image<UInt8>? = nil, excludeBorder: Bool = false
    ) throws -> [UInt64] {
        let image = try checked(image)
        if let mask { try checkMask(mask, for: image.width, image.height) }
        let width = image.width, height = image.height
        let kernel = Kernel(self, width, height)
        let range = codeRange, reach = kernel.reach
        let lock = NSLock()
        var total = [UInt64](repeating: 0, count: range)
        let maskSamples = mask?.pixels ?? []
        maskSamples.withUnsafeBufferPointer { m in
        image.withUnsafeSamples { v in
            let mb = UncheckedSendable(m), source = UncheckedSendable(v)
            parallelChunks(height, minimumChunk: 8) { rows in
                var local = [UInt64](repeating: 0, count: range)
                local.withUnsafeMutableBufferPointer { h in
                    var rows = rows
                    if excludeBorder {
                        let lower = max(rows.lowerBound, reach)
                        rows = lower..<max(lower, min(rows.upperBound, height - reach))
                    }
                    let columns = excludeBorder ? reach..<max(reach, width - reach) : 0..<width
                    let m = mb.value
                    if m.isEmpty {
                        kernel.forEach(source.value, rows, columns: columns) { _, code in h[Int(code)] &+= 1 }
                    } else {
                        kernel.forEach(source.value, rows, columns: columns) { index, code in
                            if m[index] != 0 { h[Int(code)] &+= 1 }
                        }
                    }
                }
                lock.withLock { for k in 0..<range { total[k] += local[k] } }
            }
        }
        }
        return total
    }

    /// The image made contiguous, after checking it has one channel of finite values.
    func checked<P: PixelComponent>(_ image: Image<P>) throws -> Image<P> {
        guard image.channels == 1 else {
            throw ImagingError(.channelCount, "LBP reads one grey channel, got \(image.channels); convert to gray first")
        }
        let image = image.contiguous()
        if P.self == Float.self {
            let finite = image.withUnsafeSamples { $0.allSatisfy { $0.doubleValue.isFinite } }
            guard finite else { throw ImagingError(.invalidArgument, "LBP needs finite pixel values (found NaN or infinity)") }
        }
        return image
    }

    /// The sampling geometry for one image size.
    ///
    /// Each chunk of rows copies its band (plus `reach` rows above and below) into a zero-padded
    /// float64 buffer. Sample i of column c then reads padded columns `c + reach + ⌊cpᵢ⌋` and
    /// `c + reach + ⌈cpᵢ⌉` (`cpᵢ` has at most 5 decimals, so `c + cpᵢ` never rounds onto an
    /// integer and the floor of the sum is `c + ⌊cpᵢ⌋`); the fractional weights are tabulated per
    /// row and per column as scikit-image computes them from the absolute position `r + rpᵢ`
    /// (`c + cpᵢ`), whose rounding depends on r (c). The zero border reproduces scikit-image's
    /// `cval = 0` with the same arithmetic, so a whole row of one sample is a branch-free,
    /// vectorisable loop.
    struct Kernel: @unchecked Sendable {
        let points: Int
        let width: Int, height: Int
        /// Largest |offset| rounded up: the padding, and the distance from every edge at which
        /// all samples lie inside the image.
        let reach: Int
        /// Per sample: column shifts ⌊cp⌋, ⌈cp⌉ and whether the offset is integral.
        let colShiftLow: [Int], colShiftHigh: [Int], integral: [Bool]
        /// Per sample i, per row r (index i·height + r): row offsets ⌊r + rp⌋ − r and ⌈r + rp⌉ − r, fraction.
        let rowLow: [Int], rowHigh: [Int], rowFrac: [Double]
        /// Per sample i, per column c (index i·width + c): fraction of c + cp.
        let colFrac: [Double]
        let table: [UInt32]
        let method: LBPMethod

        init(_ lbp: LocalBinaryPattern, _ width: Int, _ height: Int) {
            let p = lbp.points
            self.points = p
            self.width = width
            self.height = height
            self.table = lbp.table
            self.method = lbp.method
            reach = lbp.sampleOffsets.reduce(0) { max($0, Int(ceil(abs($1.rows))), Int(ceil(abs($1.columns)))) }
            var rowLow = [Int](repeating: 0, count: p * height), rowHigh = rowLow
            var rowFrac = [Double](repeating: 0, count: p * height)
            var colFrac = [Double](repeating: 0, count: p * width)
            for (i, o) in lbp.sampleOffsets.enumerated() {
                for r in 0..<height {
                    let x = Double(r) + o.rows, lo = x.rounded(.down)
                    rowLow[i * height + r] = Int(lo) - r
                    rowHigh[i * height + r] = Int(x.rounded(.up)) - r
                    rowFrac[i * height + r] = x - lo
                }
                for c in 0..<width {
                    let x = Double(c) + o.columns
                    colFrac[i * width + c] = x - x.rounded(.down)
                }
            }
            (self.rowLow, self.rowHigh, self.rowFrac, self.colFrac) = (rowLow, rowHigh, rowFrac, colFrac)
            colShiftLow = lbp.sampleOffsets.map { Int($0.columns.rounded(.down)) }
            colShiftHigh = lbp.sampleOffsets.map { Int($0.columns.rounded(.up)) }
            integral = lbp.sampleOffsets.map { $0.rows == $0.rows.rounded() && $0.columns == $0.columns.rounded() }
        }

        /// Calls `emit(index, code)` for every pixel of `rows` × `columns`.
        @inline(__always)
        func forEach<P: PixelComponent>(
            _ source: UnsafeBufferPointer<P>, _ rows: Range<Int>, columns: Range<Int>, _ emit: (Int, UInt32) -> Void
        ) {
            guard !rows.isEmpty, !columns.isEmpty else { return }
            let p = points, width = width, height = height, reach = reach
            let pw = width + 2 * reach
            // Zero-padded float64 band: band row k holds image row rows.lowerBound − reach + k.
            let bandRows = rows.count + 2 * reach
            var band = [Double](repeating: 0, count: pw * bandRows)
            band.withUnsafeMutableBufferPointer { b in
                for k in 0..<bandRows {
                    let r = rows.lowerBound - reach + k
                    guard r >= 0, r < height else { continue }
                    let dst = b.baseAddress! + k * pw + reach, src = source.baseAddress! + r * width
                    for c in 0..<width { dst[c] = src[c].doubleValue }
                }
            }
            var patterns = [UInt32](repeating: 0, count: width)
            band.withUnsafeBufferPointer { v in
            rowLow.withUnsafeBufferPointer { rowLow in
            rowHigh.withUnsafeBufferPointer { rowHigh in
            rowFrac.withUnsafeBufferPointer { rowFrac in
            colFrac.withUnsafeBufferPointer { colFrac in
            table.withUnsafeBufferPointer { table in
            patterns.withUnsafeMutableBufferPointer { pattern in
                let pattern = pattern.baseAddress!
                for r in rows {
                    for c in 0..<width { pattern[c] = 0 }
                    // Padded address of (r + Δ, reach) is base + (r − rows.lowerBound + reach + Δ)·pw + reach.
                    let rowBase = v.baseAddress! + (r - rows.lowerBound + reach) * pw + reach
                    let centreRow = rowBase
                    for i in 0..<p {
                        let bit = UInt32(1) << UInt32(i)
                        let top = rowBase + rowLow[i * height + r] * pw
                        let low = colShiftLow[i], high = colShiftHigh[i]
                        if integral[i] {
                            let src = top + low
                            for c in 0..<width { pattern[c] |= src[c] - centreRow[c] >= 0 ? bit : 0 }
                        } else {
                            let bottom = rowBase + rowHigh[i * height + r] * pw
                            let dr = rowFrac[i * height + r], oneMinusDr = 1 - dr
                            let fractions = colFrac.baseAddress! + i * width
                            let topLeft = top + low, topRight = top + high
                            let bottomLeft = bottom + low, bottomRight = bottom + high
                            for c in 0..<width {
                                let dc = fractions[c]
                                let t = (1 - dc) * topLeft[c] + dc * topRight[c]
                                let b = (1 - dc) * bottomLeft[c] + dc * bottomRight[c]
                                let sample = oneMinusDr * t + dr * b
                                pattern[c] |= sample - centreRow[c] >= 0 ? bit : 0
                            }
                        }
                    }
                    for c in columns {
                        let code = table.isEmpty
                            ? LocalBinaryPattern.code(pattern: pattern[c], points: p, method: method) : table[Int(pattern[c])]
                        emit(r * width + c, code)
                    }
                }
            }}}}}}}
        }
    }
}
