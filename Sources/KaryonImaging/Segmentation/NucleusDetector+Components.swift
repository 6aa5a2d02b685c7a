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
    /// Then the nuclei outside [`minArea`, `maxArea`] or whose mean `background` exceeds
    /// `maxBackground` are dropped, and the others are numbered 1…n in raster order of their first
    /// pixel; each component's area, background sum and first pixel are taken in its box, in
    /// parallel, in the raster order a whole-image pass would take them.
    func shapeComponents(_ components: ComponentRuns, width w: Int, height h: Int, background: [Float]?) throws -> LabelImage {
        let count = components.count
        var labels = [Int32](repeating: 0, count: w * h)
        guard count > 0 else { return LabelImage(unchecked: w, h, labels, count: 0) }
        let margin = 1
        /// Component c's bounding box grown by the margin, clipped to the image.
        func box(_ c: Int) -> (x: Int, y: Int, width: Int, height: Int) {
            let bx = Swift.max(0, components.minX[c] - margin), by = Swift.max(0, components.minY[c] - margin)
            return (bx, by, Swift.min(w, components.maxX[c] + margin + 1) - bx, Swift.min(h, components.maxY[c] + margin + 1) - by)
        }
        /// One component's nuclei in its box (local labels 1…k), and per local label its area,
        /// background sum and first pixel (index in the image).
        struct Part {
            var labels: [Int32] = [], count = 0
            var area: [Int] = [], backgroundSum: [Double] = [], first: [Int] = []
        }
        var parts = [Part](repeating: Part(), count: count + 1)
        var failure: [Error?] = Array(repeating: nil, count: count + 1)
        components.runs.withUnsafeBufferPointer { runs in
            parts.withUnsafeMutableBufferPointer { out in
                failure.withUnsafeMutableBufferPointer { fail in
                    let runs = UncheckedSendable(runs), results = SharedMutableBuffer(out.baseAddress!)
                    let errors = SharedMutableBuffer(fail.baseAddress!)
                    parallelChunks(count, minimumChunk: 1) { range in
                        for index in range {
                            let c = index + 1
                            let (bx, by, bw, bh) = box(c)
                            var mask = [UInt8](repeating: 0, count: bw * bh)
                            for run in runs.value[components.start[c]..<components.start[c + 1]] {
                                let row = (Int(run.row) - by) * bw - bx
                                for x in Int(run.first)...Int(run.last) { mask[row + x] = 1 }
                            }
                            do {
                                let (local, k) = try shapeComponent(Image(unchecked: bw, bh, 1, mask))
                                var part = Part(labels: local, count: k, area: [Int](repeating: 0, count: k + 1),
                                                backgroundSum: [Double](repeating: 0, count: k + 1),
                                                first: [Int](repeating: Int.max, count: k + 1))
                                for y in 0..<bh {
                                    for x in 0..<bw where local[y * bw + x] != 0 {
                                        let l = Int(local[y * bw + x]), i = (by + y) * w + bx + x
                                        part.area[l] += 1
                                        if let background { part.backgroundSum[l] += Double(background[i]) }
                                        if part.first[l] == Int.max { part.first[l] = i }
                                    }
                                }
                                results[c] = part
                            } catch {
                                errors[c] = error
                            }
                        }
                    }
                }
            }
        }
        if let error = failure.lazy.compactMap({ $0 }).first { throw error }
        // The nuclei kept, numbered in raster order of their first pixel.
        var kept: [(first: Int, component: Int32, local: Int32)] = []
        for c in 1...count {
            let part = parts[c]
            for l in 1..<(part.count + 1) where part.area[l] > 0 {
                let a = Double(part.area[l])
                if a >= minArea && a <= maxArea && (background == nil || part.backgroundSum[l] / a <= maxBackground) {
                    kept.append((part.first[l], Int32(c), Int32(l)))
                }
            }
        }
        kept.sort { $0.first < $1.first }
        var number = parts.map { [Int32](repeating: 0, count: $0.count + 1) }
        for (n, nucleus) in kept.enumerated() { number[Int(nucleus.component)][Int(nucleus.local)] = Int32(n + 1) }
        labels.withUnsafeMutableBufferPointer { o in
            parts.withUnsafeBufferPointer { parts in
                number.withUnsafeBufferPointer { number in
                    let output = SharedMutableBuffer(o.baseAddress!), parts = UncheckedSendable(parts.baseAddress!)
                    let number = UncheckedSendable(number.baseAddress!)
                    parallelChunks(count, minimumChunk: 1) { range in
                        for index in range {
                            let c = index + 1
                            let (bx, by, bw, bh) = box(c)
                            let renumber = number.value[c]
                            parts.value[c].labels.withUnsafeBufferPointer { part in
                                for y in 0..<bh {
                                    for x in 0..<bw where part[y * bw + x] != 0 {
                                        let n = renumber[Int(part[y * bw + x])]
                                        if n != 0 { output[(by + y) * w + bx + x] = n }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return LabelImage(unchecked: w, h, labels, count: kept.count)
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
