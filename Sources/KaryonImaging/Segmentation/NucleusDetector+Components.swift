extension NucleusDetector {
    /// Splits and smooths every connected foreground component on its own, in parallel: the
    /// distance transform, h-maxima, watershed and boundary opening all run on the component's
    /// bounding box (grown by one pixel), so their cost follows the nuclei's pixels and stays in cache,
    /// instead of sweeping the whole field.
    ///
    /// The result equals the whole-field computation:
    /// - the distance from a pixel of component C to the nearest background pixel equals the
    ///   distance to the nearest pixel outside C (a pixel of another component is never nearer: the
    ///   digital line to it leaves C through a background pixel first), and that pixel lies in C's
    ///   box grown by one;
    /// - the reconstruction, the maxima and the flooding never cross background (distance 0);
    /// - the opening by a disk keeps a pixel when the disk holds no background pixel; a disk that
    ///   reaches past the box grown by one holds a pixel of that ring, which is outside C, and a
    ///   disk that fits in the union of components lies in one component.
    /// Watershed ties between markers of equal height may resolve in another order than one
    /// whole-field flood would; both are watersheds of the same relief.
    ///
    /// - Returns: the nuclei, labelled with distinct but not yet sequential numbers.
    func shapeComponents(_ components: LabelImage) throws -> LabelImage {
        let w = components.width, h = components.height, count = components.count
        guard count > 0 else { return components }
        let margin = 1
        // Bounding boxes.
        var x0 = [Int](repeating: Int.max, count: count + 1), x1 = [Int](repeating: -1, count: count + 1)
        var y0 = [Int](repeating: Int.max, count: count + 1), y1 = [Int](repeating: -1, count: count + 1)
        components.labels.withUnsafeBufferPointer { l in
            for y in 0..<h {
                for x in 0..<w {
                    let c = Int(l[y * w + x])
                    guard c != 0 else { continue }
                    if x < x0[c] { x0[c] = x }
                    if x > x1[c] { x1[c] = x }
                    if y < y0[c] { y0[c] = y }
                    y1[c] = y
                }
            }
        }
        /// Component c's bounding box grown by the margin, clipped to the image.
        func box(_ c: Int) -> (x: Int, y: Int, width: Int, height: Int) {
            let bx = Swift.max(0, x0[c] - margin), by = Swift.max(0, y0[c] - margin)
            return (bx, by, Swift.min(w, x1[c] + margin + 1) - bx, Swift.min(h, y1[c] + margin + 1) - by)
        }
        // Each component's nuclei in its box: local labels 1…k.
        var local = [(labels: [Int32], count: Int)](repeating: ([], 0), count: count + 1)
        var failure: [Error?] = Array(repeating: nil, count: count + 1)
        components.labels.withUnsafeBufferPointer { l in
            local.withUnsafeMutableBufferPointer { out in
                failure.withUnsafeMutableBufferPointer { fail in
                    let source = UncheckedSendable(l.baseAddress!), results = SharedMutableBuffer(out.baseAddress!)
                    let errors = SharedMutableBuffer(fail.baseAddress!)
                    parallelChunks(count, minimumChunk: 1) { range in
                        for index in range {
                            let c = index + 1
                            let (bx, by, bw, bh) = box(c)
                            var mask = [UInt8](repeating: 0, count: bw * bh)
                            for y in 0..<bh {
                                let row = source.value + (by + y) * w + bx
                                for x in 0..<bw where row[x] == Int32(c) { mask[y * bw + x] = 1 }
                            }
                            do {
                                results[c] = try shapeComponent(Image(unchecked: bw, bh, 1, mask))
                            } catch {
                                errors[c] = error
                            }
                        }
                    }
                }
            }
        }
        if let error = failure.lazy.compactMap({ $0 }).first { throw error }
        // Distinct numbers: component c's nuclei follow those of components 1…c−1.
        var base = [Int32](repeating: 0, count: count + 2)
        for c in 1...count { base[c + 1] = base[c] + Int32(local[c].count) }
        var labels = [Int32](repeating: 0, count: w * h)
        labels.withUnsafeMutableBufferPointer { o in
            local.withUnsafeBufferPointer { parts in
                let output = SharedMutableBuffer(o.baseAddress!), parts = UncheckedSendable(parts.baseAddress!)
                parallelChunks(count, minimumChunk: 1) { range in
                    for index in range {
                        let c = index + 1
                        let (bx, by, bw, bh) = box(c)
                        parts.value[c].labels.withUnsafeBufferPointer { part in
                            for y in 0..<bh {
                                for x in 0..<bw where part[y * bw + x] != 0 {
                                    output[(by + y) * w + bx + x] = base[c] + part[y * bw + x]
                                }
                            }
                        }
                    }
                }
            }
        }
        return LabelImage(unchecked: w, h, labels, count: Int(base[count + 1]))
    }

    /// One component's nuclei (local labels 1…k) in its box: split by shape, then smoothed.
    private func shapeComponent(_ mask: Image<UInt8>) throws -> (labels: [Int32], count: Int) {
        var labels: [Int32]
        var count: Int
        if splitByShape {
            let split = try splitTouching(mask)
            labels = split.labels
            count = split.count
        } else {
            labels = mask.pixels.map { Int32($0) }
            count = 1
        }
        if smoothingRadius >= 0.5 {
            let opened = try Morphology.open(mask, radius: Int(smoothingRadius.rounded())).pixels
            for i in 0..<labels.count where opened[i] == 0 { labels[i] = 0 }
        }
        return (labels, count)
    }
}
