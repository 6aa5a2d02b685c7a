/// Binary and grey-level morphology with disk structuring elements, hole filling, small-object
/// removal and reconstruction — the segmentation building blocks, matching scikit-image/SciPy.
///
/// Disks are scikit-image's `morphology.disk(r)`: offsets with dx² + dy² ≤ r².
///
/// ## References
/// - P. Soille, *Morphological Image Analysis*, 2nd ed., Springer 2003.
/// - L. Vincent, "Morphological grayscale reconstruction in image analysis: applications and
///   efficient algorithms", IEEE Trans. Image Process. 2(2):176–201, 1993, doi:10.1109/83.217222.
/// - scikit-image 0.26 `skimage.morphology`; SciPy 1.17 `ndimage.binary_fill_holes`.
public enum Morphology {
    /// `binary_erosion(mask, disk(r))` (scikit-image's default `mode='ignore'`: outside the image
    /// counts as foreground): a pixel stays when no background pixel of the image lies within r.
    /// Exact through the squared distance transform, O(pixels) for any radius.
    public static func erode(_ mask: Image<UInt8>, radius: Int) throws -> Image<UInt8> {
        try check(mask, radius)
        let m = mask.pixels
        let d = squaredDistanceTransform(width: mask.width, height: mask.height) { m[$0] == 0 }
        let r2 = radius * radius
        return Image(unchecked: mask.width, mask.height, 1, (0..<m.count).map { m[$0] != 0 && d[$0] > r2 ? 1 : 0 })
    }

    /// `binary_dilation(mask, disk(r))`: a pixel is set when a foreground pixel lies within r.
    public static func dilate(_ mask: Image<UInt8>, radius: Int) throws -> Image<UInt8> {
        try check(mask, radius)
        let m = mask.pixels
        let d = squaredDistanceTransform(width: mask.width, height: mask.height) { m[$0] != 0 }
        let r2 = radius * radius
        return Image(unchecked: mask.width, mask.height, 1, d.map { $0 <= r2 ? 1 : 0 })
    }

    /// Erosion then dilation (`binary_opening`): removes parts narrower than the disk.
    public static func open(_ mask: Image<UInt8>, radius: Int) throws -> Image<UInt8> {
        try dilate(try erode(mask, radius: radius), radius: radius)
    }

    /// Dilation then erosion (`binary_closing`): fills gaps narrower than the disk.
    public static func close(_ mask: Image<UInt8>, radius: Int) throws -> Image<UInt8> {
        try erode(try dilate(mask, radius: radius), radius: radius)
    }

    /// `ndimage.binary_fill_holes`: background not 4-connected to the image border becomes foreground.
    public static func fillHoles(_ mask: Image<UInt8>) throws -> Image<UInt8> {
        try check(mask, 0)
        let w = mask.width, h = mask.height
        var m = mask.pixels.map { $0 != 0 ? UInt8(1) : 0 }
        // Flood the border-connected background with 2.
        var stack: [Int] = []
        func seed(_ i: Int) { if m[i] == 0 { m[i] = 2; stack.append(i) } }
        for x in 0..<w { seed(x); seed((h - 1) * w + x) }
        for y in 0..<h { seed(y * w); seed(y * w + w - 1) }
        while let i = stack.popLast() {
            let y = i / w, x = i - y * w
            if y > 0 { seed(i - w) }
            if y < h - 1 { seed(i + w) }
            if x > 0 { seed(i - 1) }
            if x < w - 1 { seed(i + 1) }
        }
        return Image(unchecked: w, h, 1, m.map { $0 == 2 ? 0 : 1 })
    }

    /// Removes connected components with fewer than `minimumArea` pixels
    /// (`remove_small_objects(mask, max_size=minimumArea − 1, connectivity)`).
    public static func removeSmallObjects(
        _ mask: Image<UInt8>, minimumArea: Int, connectivity: Connectivity = .four
    ) throws -> Image<UInt8> {
        let labels = try labelComponents(mask, connectivity: connectivity)
        let areas = labels.areas
        return Image(unchecked: mask.width, mask.height, 1,
                     labels.labels.map { $0 != 0 && areas[Int($0)] >= minimumArea ? 1 : 0 })
    }

    /// Grey-level erosion by `disk(r)` with SciPy's `mode='reflect'` edges
    /// (`skimage.morphology.erosion(image, disk(r))`).
    public static func erode(_ image: Image<Float>, radius: Int) throws -> Image<Float> {
        try rank(image, radius, min)
    }

    /// Grey-level dilation by `disk(r)` with `mode='reflect'` edges.
    public static func dilate(_ image: Image<Float>, radius: Int) throws -> Image<Float> {
        try rank(image, radius, max)
    }

    /// Opening by reconstruction: erosion by `disk(r)`, then reconstruction by dilation under the
    /// image. Removes bright structures smaller than the disk while keeping the shape of the
    /// rest exactly — the background estimate of QuPath's cell detection.
    public static func openingByReconstruction(_ image: Image<Float>, radius: Int) throws -> Image<Float> {
        try reconstructByDilation(seed: try erode(image, radius: radius), mask: image)
    }

    /// `skimage.morphology.reconstruction(seed, mask, method='dilation')` with the full 3×3
    /// neighbourhood: repeated dilation of `seed` bounded by `mask`, to stability.
    /// Vincent's hybrid algorithm (two raster scans, then a FIFO queue).
    /// - Throws: ``ImagingError`` for different sizes, more than one channel, or `seed > mask` somewhere.
    public static func reconstructByDilation(seed: Image<Float>, mask: Image<Float>) throws -> Image<Float> {
        guard seed.channels == 1, mask.channels == 1 else {
            throw ImagingError(.channelCount, "reconstruction takes one-channel images")
        }
        guard seed.width == mask.width, seed.height == mask.height else {
            throw ImagingError(.sizeMismatch, "seed \(seed.width)×\(seed.height) and mask \(mask.width)×\(mask.height) differ")
        }
        let w = seed.width, h = seed.height
        var j = seed.pixels
        let m = mask.pixels
        guard !zip(j, m).contains(where: { $0 > $1 }) else {
            throw ImagingError(.invalidArgument, "the seed must not exceed the mask anywhere (dilation reconstruction)")
        }
        // Forward raster scan: neighbours above and to the left.
        for y in 0..<h {
            for x in 0..<w {
                var v = j[y * w + x]
                for (dy, dx) in [(-1, -1), (-1, 0), (-1, 1), (0, -1)] {
                    let yy = y + dy, xx = x + dx
                    if yy >= 0, xx >= 0, xx < w { v = max(v, j[yy * w + xx]) }
                }
                j[y * w + x] = min(v, m[y * w + x])
            }
        }
        // Backward scan, queueing pixels that can still raise a later neighbour.
        var queue: [Int] = []
        let after = [(1, 1), (1, 0), (1, -1), (0, 1)]
        for y in stride(from: h - 1, through: 0, by: -1) {
            for x in stride(from: w - 1, through: 0, by: -1) {
                var v = j[y * w + x]
                for (dy, dx) in after {
                    let yy = y + dy, xx = x + dx
                    if yy < h, xx >= 0, xx < w { v = max(v, j[yy * w + xx]) }
                }
                v = min(v, m[y * w + x])
                j[y * w + x] = v
                for (dy, dx) in after {
                    let yy = y + dy, xx = x + dx
                    if yy < h, xx >= 0, xx < w, j[yy * w + xx] < v, j[yy * w + xx] < m[yy * w + xx] {
                        queue.append(y * w + x)
                        break
                    }
                }
            }
        }
        var head = 0
        while head < queue.count {
            let p = queue[head]
            head += 1
            let y = p / w, x = p - y * w
            for dy in -1...1 {
                for dx in -1...1 where dy != 0 || dx != 0 {
                    let yy = y + dy, xx = x + dx
                    guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                    let q = yy * w + xx
                    if j[q] < j[p] && m[q] != j[q] {
                        j[q] = min(j[p], m[q])
                        queue.append(q)
                    }
                }
            }
            if head > 1 << 20 {
                queue.removeFirst(head)
                head = 0
            }
        }
        return Image(unchecked: w, h, 1, j)
    }

    static func check(_ mask: Image<UInt8>, _ radius: Int) throws {
        guard mask.channels == 1 else {
            throw ImagingError(.channelCount, "morphology takes a one-channel mask, got \(mask.channels) channels")
        }
        guard radius >= 0 else { throw ImagingError(.invalidArgument, "radius must be ≥ 0, got \(radius)") }
    }

    /// Min or max over `disk(radius)`: the disk is a stack of horizontal chords; each chord is a
    /// running 1-D extremum of its width over the (reflected) source row.
    static func rank(_ image: Image<Float>, _ radius: Int, _ pick: @escaping @Sendable (Float, Float) -> Float) throws -> Image<Float> {
        guard image.channels == 1 else {
            throw ImagingError(.channelCount, "grey morphology takes one channel, got \(image.channels)")
        }
        guard radius >= 0 else { throw ImagingError(.invalidArgument, "radius must be ≥ 0, got \(radius)") }
        let w = image.width, h = image.height
        let src = image.pixels
        let footprint = Footprint.disk(radius: radius)
        let halfWidths = (-radius...radius).map { footprint.halfWidth(atRow: $0) }
        // SciPy 'reflect': (d c b a | a b c d | d c b a).
        @Sendable func reflect(_ i: Int, _ n: Int) -> Int {
            if n == 1 { return 0 }
            var i = i
            let period = 2 * n
            i %= period
            if i < 0 { i += period }
            return i < n ? i : period - 1 - i
        }
        var out = [Float](repeating: 0, count: w * h)
        out.withUnsafeMutableBufferPointer { o in
            let shared = SharedMutableBuffer(o.baseAddress!)
            parallelChunks(h, minimumChunk: 4) { rows in
                var padded = [Float](repeating: 0, count: w + 2 * radius)
                var line = [Float](repeating: 0, count: w)
                for y in rows {
                    var first = true
                    for (k, dy) in (-radius...radius).enumerated() {
                        let sy = reflect(y + dy, h)
                        let half = halfWidths[k]
                        for x in 0..<(w + 2 * half) { padded[x] = src[sy * w + reflect(x - half, w)] }
                        // Running extremum of width 2·half + 1 (van Herk / Gil–Werman).
                        let chord = runningExtremum(padded, count: w + 2 * half, window: 2 * half + 1, pick)
                        for x in 0..<w { line[x] = first ? chord[x] : pick(line[x], chord[x]) }
                        first = false
                    }
                    for x in 0..<w { shared[y * w + x] = line[x] }
                }
            }
        }
        return Image(unchecked: w, h, 1, out)
    }

    /// out[i] = pick over values[i ..< i + window], for i in 0 ... count − window (van Herk /
    /// Gil–Werman: block prefix and suffix extrema, three comparisons per sample).
    static func runningExtremum(_ values: [Float], count: Int, window: Int, _ pick: (Float, Float) -> Float) -> [Float] {
        let n = count - window + 1
        guard window > 1 else { return Array(values[0..<n]) }
        var prefix = [Float](repeating: 0, count: count), suffix = prefix
        var start = 0
        while start < count {
            let end = min(start + window, count)
            prefix[start] = values[start]
            for i in (start + 1)..<max(start + 1, end) { prefix[i] = pick(prefix[i - 1], values[i]) }
            suffix[end - 1] = values[end - 1]
            for i in stride(from: end - 2, through: start, by: -1) { suffix[i] = pick(suffix[i + 1], values[i]) }
            start = end
        }
        return (0..<n).map { pick(suffix[$0], prefix[$0 + window - 1]) }
    }
}
