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

    /// The expansion for a reach ⌊√limit⌋ below 2¹⁵ px (a labelled pixel more than `reach` rows
    /// away is never within the limit, so column offsets fit in 16 bits): the feature transform of
    /// ``nearestSourceTransform(width:height:within:isSource:)`` restricted to the pixels that
    /// matter, with the same choices on ties, so the same labels.
    ///
    /// - Column pass: per pixel, the signed row offset to the nearest labelled pixel of its column
    ///   within `reach` (of two equidistant ones the lower), as 16 bits, from a top-down and a
    ///   bottom-up sweep along the rows.
    /// - Row pass: along every row that has a candidate, the lower envelope of the parabolas
    ///   dx² + offset²; each background pixel within the limit takes the label of its nearest
    ///   candidate's source directly.
    private func grown(limit: Int, reach: Int) -> [Int32] {
        let w = width, h = height, none = Int16.max
        var offset = [Int16](repeating: none, count: w * h)
        var out = labels
        labels.withUnsafeBufferPointer { l in
            offset.withUnsafeMutableBufferPointer { d in
                let l = UncheckedSendable(l.baseAddress!), d = SharedMutableBuffer(d.baseAddress!)
                // Bands of columns on all cores, each swept down the rows and back up.
                let bandWidth = 256
                parallelChunks((w + bandWidth - 1) / bandWidth, minimumChunk: 1) { bands in
                    for band in bands {
                        let x0 = band * bandWidth, x1 = Swift.min(w, x0 + bandWidth)
                        var last = [Int](repeating: -(1 << 40), count: x1 - x0)
                        for y in 0..<h {
                            let row = y * w
                            for x in x0..<x1 {
                                if l.value[row + x] != 0 { last[x - x0] = y }
                                let up = y - last[x - x0]
                                if up <= reach { d[row + x] = Int16(truncatingIfNeeded: -up) }
                            }
                        }
                        for k in last.indices { last[k] = 1 << 40 }
                        for y in stride(from: h - 1, through: 0, by: -1) {
                            let row = y * w
                            for x in x0..<x1 {
                                if l.value[row + x] != 0 { last[x - x0] = y }
                                let down = last[x - x0] - y
                                let current = d[row + x]
                                if down <= reach && (current == none || down <= -Int(current)) {
                                    d[row + x] = Int16(truncatingIfNeeded: down)
                                }
                            }
                        }
                    }
                }
            }
            offset.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    let l = UncheckedSendable(l.baseAddress!), d = UncheckedSendable(d.baseAddress!)
                    let o = SharedMutableBuffer(o.baseAddress!)
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
}
