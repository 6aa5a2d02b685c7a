/// Exact squared Euclidean distance from every pixel to the nearest pixel where `isSource` holds,
/// and the raster index of that nearest source pixel (the feature transform); `nil` when there is
/// no source pixel.
///
/// The same separable passes as ``squaredDistanceTransform(width:height:isSource:)``, keeping the
/// minimising sample of each pass: the column pass gives the nearest source row per column (of
/// two equidistant ones the lower), the row pass the column whose candidate is nearest (of
/// equidistant columns the one the lower envelope keeps). On exact ties the choice can differ
/// from SciPy's.
///
/// `isSource` is called once per pixel from several threads, so it must only read.
///
/// - Parameter limit: a squared distance; when given, the results are exact for the pixels within
///   it of a source (the row pass only considers column candidates within it, which skips rows far
///   from every source). Other pixels get a larger distance and, where no candidate is within the
///   limit, `Int.max / 4` and nearest −1.
/// - Complexity: O(pixels).
///
/// ## References
/// - P. F. Felzenszwalb, D. P. Huttenlocher, "Distance transforms of sampled functions",
///   Theory of Computing 8:415–428, 2012, doi:10.4086/toc.2012.v008a019.
public func nearestSourceTransform(
    width: Int, height: Int, within limit: Int? = nil, isSource: (Int) -> Bool
) -> (squaredDistance: [Int], nearest: [Int])? {
    let infinity = Int.max / 4
    // Only column candidates within the limit can be nearest to a pixel within it.
    let bound = limit.map { Swift.max(0, $0) } ?? infinity
    guard var columns = ColumnSweep(width: width, height: height, isSource: isSource, keepRows: true) else { return nil }
    var nearest = [Int](repeating: 0, count: width * height)
    columns.squared.withUnsafeMutableBufferPointer { g in
        columns.nearestRow.withUnsafeBufferPointer { r in
            nearest.withUnsafeMutableBufferPointer { n in
                let grid = SharedMutableBuffer(g.baseAddress!)
                let rows = UncheckedSendable(r.baseAddress!)
                let out = SharedMutableBuffer(n.baseAddress!)
                // Along every row: the column whose column-nearest source is nearest overall.
                parallelChunks(height, minimumChunk: 32) { chunk in
                    let s = EnvelopeScratch(width)
                    for y in chunk {
                        let line = grid.base + y * width
                        var any = false
                        for x in 0..<width {
                            let f = line[x] <= bound ? line[x] : infinity
                            s.f[x] = f
                            any = any || f < infinity
                        }
                        guard any else {
                            for x in 0..<width { line[x] = infinity; out[y * width + x] = -1 }
                            continue
                        }
                        s.run(infinity)
                        for x in 0..<width {
                            let column = s.arg[x]
                            out[y * width + x] = rows.value[y * width + column] * width + column
                        }
                        line.update(from: s.d, count: width)
                    }
                }
            }
        }
    }
    let grid = columns.squared
    return (grid, nearest)
}

extension LabelImage {
    /// Grows every label by up to `distance` pixels into the background without overlap: each
    /// background pixel within `distance` (Euclidean, inclusive) of a labelled pixel takes the
    /// label of the nearest one — scikit-image 0.26 `segmentation.expand_labels`, and QuPath's
    /// cell expansion from nuclei.
    ///
    /// - Parameter distance: in pixels, ≥ 0.
    /// - Throws: ``ImagingError`` for a negative or non-finite distance.
    /// - Complexity: O(pixels).
    ///
    /// ## References
    /// - scikit-image 0.26 `skimage.segmentation.expand_labels`.
    /// - P. Bankhead et al., "QuPath: Open source software for digital pathology image analysis",
    ///   Sci. Rep. 7:16878, 2017, doi:10.1038/s41598-017-17204-5 (cell expansion).
    public func expanded(by distance: Double) throws -> LabelImage {
        guard distance.isFinite, distance >= 0 else {
            throw ImagingError(.invalidArgument, "the expansion distance must be a finite number ≥ 0, got \(distance)")
        }
        // Squared distances are integers: d² ≤ distance² ⇔ d² ≤ ⌊distance²⌋ (capped far beyond any image).
        let limit = Int(Swift.min(distance * distance, Double(1 << 60)))
        guard distance > 0, labels.contains(where: { $0 != 0 }) else { return self }
        var reach = Int(Double(limit).squareRoot())
        while reach * reach > limit { reach -= 1 }
        while (reach + 1) * (reach + 1) <= limit { reach += 1 }
        if reach < Int(Int16.max) {
            return LabelImage(unchecked: width, height, grown(limit: limit, reach: reach), count: count)
        }
        guard let transform = labels.withUnsafeBufferPointer({ l in
            nearestSourceTransform(width: width, height: height, within: limit, isSource: { l[$0] != 0 })
        }) else { return self }
        var out = labels
        out.withUnsafeMutableBufferPointer { o in
            labels.withUnsafeBufferPointer { l in
                transform.squaredDistance.withUnsafeBufferPointer { d in
                    transform.nearest.withUnsafeBufferPointer { n in
                        let o = SharedMutableBuffer(o.baseAddress!), l = UncheckedSendable(l), d = UncheckedSendable(d)
                        let n = UncheckedSendable(n)
                        parallelChunks(l.value.count, minimumChunk: 1 << 16) { range in
                            for i in range where l.value[i] == 0 && d.value[i] <= limit { o[i] = l.value[n.value[i]] }
                        }
                    }
                }
            }
        }
        return LabelImage(unchecked: width, height, out, count: count)
    }

    /// The largest reach for which the row pass scans every column within reach
    /// (``nearestInWindow(width:height:limit:reach:labels:offsets:out:)``) instead of building the
    /// lower envelope.
    static let windowReach = 64

    /// The expansion for a reach ⌊√limit⌋ below 2¹⁵ px (a labelled pixel more than `reach` rows
    /// away is never within the limit, so column offsets fit in 16 bits): the feature transform of
    /// ``nearestSourceTransform(width:height:within:isSource:)`` restricted to the pixels that
    /// matter, with the same choices on ties, so the same labels.
    ///
    /// - Column pass: per pixel, the signed row offset to the nearest labelled pixel of its column
    ///   within `reach` (of two equidistant ones the lower), as 16 bits, from a top-down and a
    ///   bottom-up sweep along the rows.
    /// - Row pass: along every row that has a candidate, the nearest candidate by dx² + offset²
    ///   (up to ``windowReach``, scanning the columns within reach; beyond, by the lower envelope
    ///   of the parabolas); each background pixel within the limit takes the label of its nearest
    ///   candidate's source directly.
    private func grown(limit: Int, reach: Int) -> [Int32] {
        let w = width, h = height, none = Int16.max
        var offset = [Int16](repeating: none, count: w * h)
        var out = labels
        labels.withUnsafeBufferPointer { l in
            offset.withUnsafeMutableBufferPointer { d in
                let l = UncheckedSendable(l.baseAddress!), d = SharedMutableBuffer(d.baseAddress!)
                // Bands of columns on all cores, each swept down the rows and back up; along a row
                // the columns are independent, so the sweeps are written without branches (they
                // vectorise).
                let bandWidth = 256
                parallelChunks((w + bandWidth - 1) / bandWidth, minimumChunk: 1) { bands in
                    let last = UnsafeMutablePointer<Int32>.allocate(capacity: bandWidth)
                    defer { last.deallocate() }
                    let reach = Int32(reach)
                    for band in bands {
                        let x0 = band * bandWidth, width = Swift.min(w, x0 + bandWidth) - x0
                        last.initialize(repeating: -(1 << 20), count: width)
                        for y in 0..<h {
                            let labels = l.value + y * w + x0, out = d.base + y * w + x0, row = Int32(y)
                            for x in 0..<width {
                                let seen = labels[x] != 0 ? row : last[x]
                                last[x] = seen
                                let up = row - seen
                                out[x] = up <= reach ? Int16(truncatingIfNeeded: -up) : out[x]
                            }
                        }
                        last.update(repeating: 1 << 30, count: width)
                        for y in stride(from: h - 1, through: 0, by: -1) {
                            let labels = l.value + y * w + x0, out = d.base + y * w + x0, row = Int32(y)
                            for x in 0..<width {
                                let seen = labels[x] != 0 ? row : last[x]
                                last[x] = seen
                                let down = seen - row, current = out[x]
                                let nearer = down <= reach && (current == none || down <= -Int32(current))
                                out[x] = nearer ? Int16(truncatingIfNeeded: down) : current
                            }
                        }
                    }
                }
            }
            offset.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    let l = UncheckedSendable(l.baseAddress!), d = UncheckedSendable(d.baseAddress!)
                    let o = SharedMutableBuffer(o.baseAddress!)
                    if reach <= Self.windowReach {
                        Self.nearestInWindow(width: w, height: h, limit: limit, reach: reach, labels: l.value, offsets: d.value, out: o)
                        return
                    }
                    let infinity = Int.max / 4
                    parallelChunks(h, minimumChunk: 32) { rows in
                        let s = EnvelopeScratch(w)
                        for y in rows {
                            let row = y * w
                            var any = false
                            for x in 0..<w {
                                let v = Int(d.value[row + x])
                                let candidate = v != Int(none)
                                s.f[x] = candidate ? v * v : infinity
                                any = any || candidate
                            }
                            guard any else { continue }
                            s.run(infinity)
                            for x in 0..<w where l.value[row + x] == 0 && s.d[x] <= limit {
                                let column = s.arg[x]
                                o[row + x] = l.value[(y + Int(d.value[row + column])) * w + column]
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The row pass of ``grown(limit:reach:)`` for a reach up to ``windowReach``: every pixel
    /// compares the candidates of the 2·reach + 1 columns around it, dx² + offset², sixteen pixels
    /// at a time in 16-bit lanes. Columns are taken in increasing order and a candidate at least as
    /// near replaces the one before, so of two equidistant candidates the right one wins, as in
    /// the lower envelope (whose later parabola takes an intersection point). Candidates beyond
    /// the window are beyond the limit: (reach + 1)² > limit. For reach 10 (5 µm at 0.5 µm/px)
    /// this took a 1024² field's row pass from about 9 ms of CPU to about 2.
    private static func nearestInWindow(width w: Int, height h: Int, limit: Int, reach: Int, labels l: UnsafePointer<Int32>,
                                        offsets d: UnsafePointer<Int16>, out o: SharedMutableBuffer<Int32>) {
        let none = Int16.max
        // Above every dx² + offset² of a candidate (at most 2 · 64²), and no sum overflows.
        let far: Int16 = 1 << 14
        let l = UncheckedSendable(l), d = UncheckedSendable(d)
        // Sixteen pixels at a time; the row is padded to a multiple of sixteen with `far`.
        typealias Lanes = SIMD16<Int16>
        let span = (w + Lanes.scalarCount - 1) / Lanes.scalarCount * Lanes.scalarCount
        parallelChunks(h, minimumChunk: 32) { rows in
            let padded = UnsafeMutablePointer<Int16>.allocate(capacity: span + 2 * reach)
            // The winning column's offset dx from each pixel, and its dx² + offset².
            let best = UnsafeMutablePointer<Int16>.allocate(capacity: span)
            let step = UnsafeMutablePointer<Int16>.allocate(capacity: span)
            defer { padded.deallocate(); best.deallocate(); step.deallocate() }
            padded.initialize(repeating: far, count: span + 2 * reach)
            for y in rows {
                let row = y * w
                var any = false
                for x in 0..<w {
                    let v = d.value[row + x]
                    let candidate = v != none
                    padded[reach + x] = candidate ? v &* v : far
                    any = any || candidate
                }
                guard any else { continue }
                for x in stride(from: 0, to: span, by: Lanes.scalarCount) {
                    var nearest = Lanes(repeating: far), offset = Lanes(repeating: 0)
                    for dx in -reach...reach {
                        let v = UnsafeRawPointer(padded + reach + x + dx).loadUnaligned(as: Lanes.self) &+ Lanes(repeating: Int16(dx * dx))
                        let nearer = v .<= nearest
                        nearest.replace(with: v, where: nearer)
                        offset.replace(with: Lanes(repeating: Int16(dx)), where: nearer)
                    }
                    UnsafeMutableRawPointer(best + x).storeBytes(of: nearest, as: Lanes.self)
                    UnsafeMutableRawPointer(step + x).storeBytes(of: offset, as: Lanes.self)
                }
                for x in 0..<w where l.value[row + x] == 0 && Int(best[x]) <= limit {
                    let c = x + Int(step[x])
                    o[row + x] = l.value[(y + Int(d.value[row + c])) * w + c]
                }
            }
        }
    }
}
