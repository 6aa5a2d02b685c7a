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
    /// Exact through the squared distance transform, O(pixels) for any radius; `disk(1)` (the
    /// 4-neighbour cross) is scanned directly.
    public static func erode(_ mask: Image<UInt8>, radius: Int) throws -> Image<UInt8> {
        try check(mask, radius)
        if radius == 1 { return crossNeighbourhood(mask, erode: true) }
        let m = mask.pixels
        let d = squaredDistanceTransform(width: mask.width, height: mask.height) { m[$0] == 0 }
        let r2 = radius * radius
        return Image(unchecked: mask.width, mask.height, 1, (0..<m.count).map { m[$0] != 0 && d[$0] > r2 ? 1 : 0 })
    }

    /// `binary_dilation(mask, disk(r))`: a pixel is set when a foreground pixel lies within r
    /// (`disk(1)` scanned directly, larger disks through the distance transform).
    public static func dilate(_ mask: Image<UInt8>, radius: Int) throws -> Image<UInt8> {
        try check(mask, radius)
        if radius == 1 { return crossNeighbourhood(mask, erode: false) }
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
        let w = mask.width, h = mask.height, pw = w + 2, ph = h + 2
        // The mask in a one-pixel frame of background: the frame touches every border pixel, so
        // flooding the background from a frame corner reaches exactly the border-connected part.
        var m = [UInt8](repeating: 0, count: pw * ph)
        m.withUnsafeMutableBufferPointer { b in
            let m = b.baseAddress!
            mask.withUnsafeSamples { s in
                for y in 0..<h {
                    for x in 0..<w where s[y * w + x] != 0 { m[(y + 1) * pw + x + 1] = 1 }
                }
            }
            // Scanline flood of the background from the frame's corner: fill a whole run of a
            // row, then seed each background run of the rows above and below that it touches
            // (4-connectivity: the runs must overlap the filled run's columns).
            var stack: [(x: Int, y: Int)] = [(0, 0)]
            while let (x, y) = stack.popLast() {
                let row = y * pw
                guard m[row + x] == 0 else { continue }
                var left = x, right = x
                while left > 0 && m[row + left - 1] == 0 { left -= 1 }
                while right < pw - 1 && m[row + right + 1] == 0 { right += 1 }
                for i in left...right { m[row + i] = 2 }
                for ny in stride(from: y - 1, through: y + 1, by: 2) where ny >= 0 && ny < ph {
                    let next = ny * pw
                    var i = left
                    while i <= right {
                        if m[next + i] == 0 {
                            stack.append((i, ny))
                            while i <= right && m[next + i] == 0 { i += 1 }
                        } else {
                            i += 1
                        }
                    }
                }
            }
        }
        let out = [UInt8](unsafeUninitializedCapacity: w * h) { out, count in
            m.withUnsafeBufferPointer { m in
                for y in 0..<h {
                    let row = m.baseAddress! + (y + 1) * pw + 1, o = out.baseAddress! + y * w
                    for x in 0..<w { o[x] = row[x] == 2 ? 0 : 1 }
                }
            }
            count = w * h
        }
        return Image(unchecked: w, h, 1, out)
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
    /// - Throws: ``ImagingError`` for more than one channel, a negative radius or NaN samples.
    public static func erode(_ image: Image<Float>, radius: Int) throws -> Image<Float> {
        try rank(image, radius, GreyMinimum.self)
    }

    /// Grey-level dilation by `disk(r)` with `mode='reflect'` edges.
    /// - Throws: ``ImagingError`` for more than one channel, a negative radius or NaN samples.
    public static func dilate(_ image: Image<Float>, radius: Int) throws -> Image<Float> {
        try rank(image, radius, GreyMaximum.self)
    }

    /// Opening by reconstruction: erosion by `disk(r)`, then reconstruction by dilation under the
    /// image. Removes bright structures smaller than the disk while keeping the shape of the
    /// rest exactly — the background estimate of QuPath's cell detection.
    public static func openingByReconstruction(_ image: Image<Float>, radius: Int) throws -> Image<Float> {
        // An erosion by a disk holding the origin never exceeds the image, and `erode` refuses NaN.
        let eroded = try erode(image, radius: radius)
        return try reconstructByDilation(checkedSeed: eroded, mask: image)
    }

    /// Erosion or dilation of a binary mask by `disk(1)`, the pixel and its four edge neighbours;
    /// outside the image counts as foreground for erosion and as background for dilation.
    static func crossNeighbourhood(_ mask: Image<UInt8>, erode: Bool) -> Image<UInt8> {
        let w = mask.width, h = mask.height
        var out = [UInt8](repeating: 0, count: w * h)
        mask.withUnsafeSamples { m in
            out.withUnsafeMutableBufferPointer { o in
                // Outside the image: 1 for erosion (ignored), 0 for dilation.
                let outside: UInt8 = erode ? 1 : 0
                for y in 0..<h {
                    let row = y * w
                    for x in 0..<w {
                        let c: UInt8 = m[row + x] != 0 ? 1 : 0
                        let up: UInt8 = y > 0 ? (m[row - w + x] != 0 ? 1 : 0) : outside
                        let down: UInt8 = y < h - 1 ? (m[row + w + x] != 0 ? 1 : 0) : outside
                        let left: UInt8 = x > 0 ? (m[row + x - 1] != 0 ? 1 : 0) : outside
                        let right: UInt8 = x < w - 1 ? (m[row + x + 1] != 0 ? 1 : 0) : outside
                        o[row + x] = erode ? c & up & down & left & right : c | up | down | left | right
                    }
                }
            }
        }
        return Image(unchecked: w, h, 1, out)
    }

    static func check(_ mask: Image<UInt8>, _ radius: Int) throws {
        guard mask.channels == 1 else {
            throw ImagingError(.channelCount, "morphology takes a one-channel mask, got \(mask.channels) channels")
        }
        guard radius >= 0 else { throw ImagingError(.invalidArgument, "radius must be ≥ 0, got \(radius)") }
    }
}
