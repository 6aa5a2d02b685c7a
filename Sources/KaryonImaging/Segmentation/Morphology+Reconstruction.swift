extension Morphology {
    /// `skimage.morphology.reconstruction(seed, mask, method='dilation')` with the full 3×3
    /// neighbourhood: repeated dilation of `seed` bounded by `mask`, to stability.
    ///
    /// Vincent's hybrid algorithm: a forward and a backward raster scan, then a FIFO queue of the
    /// pixels that can still raise a neighbour. The images are framed by one pixel of −∞ so that
    /// the scans need no bounds checks. The reconstruction is unique, so the result does not depend
    /// on the scan or queue order.
    ///
    /// - Throws: ``ImagingError`` for different sizes, more than one channel, or `seed > mask` somewhere.
    /// - Complexity: O(pixels) for the scans, plus the queue (O(pixels) in practice).
    ///
    /// ## References
    /// - L. Vincent, "Morphological grayscale reconstruction in image analysis: applications and
    ///   efficient algorithms", IEEE Trans. Image Process. 2(2):176–201, 1993, doi:10.1109/83.217222.
    public static func reconstructByDilation(seed: Image<Float>, mask: Image<Float>) throws -> Image<Float> {
        guard seed.channels == 1, mask.channels == 1 else {
            throw ImagingError(.channelCount, "reconstruction takes one-channel images")
        }
        guard seed.width == mask.width, seed.height == mask.height else {
            throw ImagingError(.sizeMismatch, "seed \(seed.width)×\(seed.height) and mask \(mask.width)×\(mask.height) differ")
        }
        let w = seed.width, h = seed.height
        let pw = w + 2, ph = h + 2
        var j = [Float](repeating: -.infinity, count: pw * ph)
        var m = [Float](repeating: -.infinity, count: pw * ph)
        var exceeds = false
        seed.withUnsafeSamples { s in
            mask.withUnsafeSamples { k in
                for y in 0..<h {
                    for x in 0..<w {
                        let a = s[y * w + x], b = k[y * w + x]
                        if a > b { exceeds = true }
                        j[(y + 1) * pw + x + 1] = a
                        m[(y + 1) * pw + x + 1] = b
                    }
                }
            }
        }
        guard !exceeds else {
            throw ImagingError(.invalidArgument, "the seed must not exceed the mask anywhere (dilation reconstruction)")
        }
        j.withUnsafeMutableBufferPointer { jb in
            m.withUnsafeBufferPointer { mb in
                let j = jb.baseAddress!, m = mb.baseAddress!
                // Forward raster scan: neighbours above and to the left.
                for y in 1...h {
                    for p in (y * pw + 1)...(y * pw + w) {
                        let v = Swift.max(Swift.max(Swift.max(j[p], j[p - pw - 1]), Swift.max(j[p - pw], j[p - pw + 1])), j[p - 1])
                        j[p] = Swift.min(v, m[p])
                    }
                }
                // Backward scan, queueing pixels that can still raise a later neighbour.
                var queue: [Int] = []
                for y in stride(from: h, through: 1, by: -1) {
                    for p in stride(from: y * pw + w, through: y * pw + 1, by: -1) {
                        let v = Swift.min(
                            Swift.max(Swift.max(Swift.max(j[p], j[p + pw + 1]), Swift.max(j[p + pw], j[p + pw - 1])), j[p + 1]), m[p])
                        j[p] = v
                        if (j[p + 1] < v && j[p + 1] < m[p + 1]) || (j[p + pw - 1] < v && j[p + pw - 1] < m[p + pw - 1])
                            || (j[p + pw] < v && j[p + pw] < m[p + pw]) || (j[p + pw + 1] < v && j[p + pw + 1] < m[p + pw + 1]) {
                            queue.append(p)
                        }
                    }
                }
                let neighbours = [-pw - 1, -pw, -pw + 1, -1, 1, pw - 1, pw, pw + 1]
                var head = 0
                while head < queue.count {
                    let p = queue[head]
                    head += 1
                    let v = j[p]
                    for n in neighbours {
                        let q = p + n
                        // The frame has j = m = −∞ and is never raised.
                        if j[q] < v && m[q] != j[q] {
                            j[q] = Swift.min(v, m[q])
                            queue.append(q)
                        }
                    }
                    if head > 1 << 20 && head > queue.count / 2 {
                        queue.removeFirst(head)
                        head = 0
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w { out[y * w + x] = j[(y + 1) * pw + x + 1] }
        }
        return Image(unchecked: w, h, 1, out)
    }
}
