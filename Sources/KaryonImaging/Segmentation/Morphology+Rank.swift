/// The pairwise operation of a grey-level rank filter: minimum (erosion) or maximum (dilation).
protocol GreyExtremum {
    static func pick(_ a: Float, _ b: Float) -> Float
}

// `a < b ? a : b` is one MINSS/MINPS instruction (Swift.min's order of operands costs a compare
// and a blend); the two differ only in which of two equal zeros they return, and on NaN, which
// grey morphology does not take.
enum GreyMinimum: GreyExtremum {
    @inline(__always) static func pick(_ a: Float, _ b: Float) -> Float { a < b ? a : b }
}

enum GreyMaximum: GreyExtremum {
    @inline(__always) static func pick(_ a: Float, _ b: Float) -> Float { a > b ? a : b }
}

extension Morphology {
    /// Minimum or maximum over `disk(radius)` with SciPy's `mode='reflect'` edges.
    ///
    /// The disk is a stack of horizontal chords, one per row offset dy, of half-width k(dy). The
    /// image is processed in strips of rows; for each strip the rows it reads are padded by
    /// reflection and eroded horizontally with growing half-width, H₀ = the row,
    /// H₁(x) = pick(x − 1, x, x + 1), Hₖ(x) = pick(Hₖ₋₁(x − 1), Hₖ₋₁(x + 1)) for k ≥ 2, so every
    /// chord costs one operation per pixel and is shared by all the output rows that use it (the
    /// chord decomposition of Urbach & Wilkinson). Output row y is the pick over dy of
    /// H_{k(dy)} of source row y + dy. Minimum and maximum are exact, so the result equals the
    /// direct footprint scan sample for sample.
    ///
    /// - Complexity: O(pixels · radius), about 3·radius operations per pixel, on all cores.
    ///
    /// ## References
    /// - E. R. Urbach, M. H. F. Wilkinson, "Efficient 2-D grayscale morphological transformations
    ///   with arbitrary flat structuring elements", IEEE Trans. Image Process. 17(1):1–8, 2008,
    ///   doi:10.1109/TIP.2007.912582.
    static func rank<E: GreyExtremum>(_ image: Image<Float>, _ radius: Int, _: E.Type) throws -> Image<Float> {
        guard image.channels == 1 else {
            throw ImagingError(.channelCount, "grey morphology takes one channel, got \(image.channels)")
        }
        guard radius >= 0 else { throw ImagingError(.invalidArgument, "radius must be ≥ 0, got \(radius)") }
        let nans = image.pixels.withUnsafeBufferPointer { p in p.reduce(0) { $0 &+ ($1.isNaN ? 1 : 0) } }
        guard nans == 0 else { throw ImagingError(.invalidArgument, "grey morphology needs values without NaN (\(nans) found)") }
        let w = image.width, h = image.height, r = radius
        let footprint = Footprint.disk(radius: r)
        // Row offsets grouped by chord half-width, and for each half-width k the largest |dy|
        // whose chord is at least k wide (the rows that still need Hₖ).
        var offsetsByHalfWidth = [[Int]](repeating: [], count: r + 1)
        var reach = [Int](repeating: -1, count: r + 1)
        for dy in -r...r {
            let k = footprint.halfWidth(atRow: dy)
            offsetsByHalfWidth[k].append(dy)
            for j in 0...k { reach[j] = Swift.max(reach[j], abs(dy)) }
        }
        let pw = w + 2 * r
        let columnSource = (0..<pw).map { reflectIndex($0 - r, w) }
        let stripRows = Swift.max(64, 2 * r)
        let src = image.pixels
        var out = [Float](repeating: 0, count: w * h)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                let source = UncheckedSendable(s.baseAddress!)
                let output = SharedMutableBuffer(o.baseAddress!)
                parallelChunks(h, minimumChunk: stripRows) { rows in
                    let capacity = (stripRows + 2 * r) * pw
                    let a0 = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
                    let b0 = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
                    defer { a0.deallocate(); b0.deallocate() }
                    for y0 in stride(from: rows.lowerBound, to: rows.upperBound, by: stripRows) {
                        let rowCount = Swift.min(stripRows, rows.upperBound - y0)
                        var a = a0, b = b0
                        // Padded source rows y0 − r … y0 + rowCount + r − 1.
                        for t in 0..<(rowCount + 2 * r) {
                            let row = source.value + reflectIndex(y0 - r + t, h) * w
                            let dst = a + t * pw
                            if r <= w {
                                (dst + r).update(from: row, count: w)
                                for xp in 0..<r {
                                    dst[xp] = row[columnSource[xp]]
                                    dst[pw - 1 - xp] = row[columnSource[pw - 1 - xp]]
                                }
                            } else {
                                for xp in 0..<pw { dst[xp] = row[columnSource[xp]] }
                            }
                        }
                        var first = true
                        for k in 0...r {
                            if k > 0 {
                                // Hₖ on the rows that still need it, from Hₖ₋₁.
                                for t in (r - reach[k])..<(rowCount + r + reach[k]) {
                                    let from = a + t * pw, to = b + t * pw
                                    if k == 1 {
                                        for xp in 1..<(pw - 1) { to[xp] = E.pick(E.pick(from[xp - 1], from[xp]), from[xp + 1]) }
                                    } else {
                                        for xp in k..<(pw - k) { to[xp] = E.pick(from[xp - 1], from[xp + 1]) }
                                    }
                                }
                                swap(&a, &b)
                            }
                            for dy in offsetsByHalfWidth[k] {
                                for y in 0..<rowCount {
                                    let chord = a + (y + r + dy) * pw + r
                                    let dst = output.base + (y0 + y) * w
                                    if first {
                                        dst.update(from: chord, count: w)
                                    } else {
                                        for x in 0..<w { dst[x] = E.pick(dst[x], chord[x]) }
                                    }
                                }
                                first = false
                            }
                        }
                    }
                }
            }
        }
        return Image(unchecked: w, h, 1, out)
    }

    /// SciPy's `mode='reflect'` index: (d c b a | a b c d | d c b a).
    @inline(__always)
    static func reflectIndex(_ i: Int, _ n: Int) -> Int {
        if i >= 0 && i < n { return i }
        if n == 1 { return 0 }
        let period = 2 * n
        var i = i % period
        if i < 0 { i += period }
        return i < n ? i : period - 1 - i
    }
}
