/// Finds cell nuclei in a detection image where nuclei are bright (hematoxylin optical density,
/// OD sum, or a fluorescence channel), the way QuPath's "Cell detection" does, with every size in
/// pixels (callers convert from µm).
///
/// Steps:
/// 1. optional median filter (`medianRadius`);
/// 2. background subtraction: the opening by reconstruction with a disk of `backgroundRadius` is
///    the background, subtracted from the image (structures narrower than the disk are kept whole);
/// 3. Gaussian smoothing with `sigma`;
/// 4. foreground = smoothed > `threshold` (or Otsu's threshold of the smoothed image) where the
///    Laplacian of the smoothed image (the Laplacian of Gaussian, by the five-point stencil) is
///    negative — inside the edges' inflection, as QuPath's detection bounds nuclei — holes filled;
/// 5. split by shape: markers are the h-maxima (depth `splitDepth`) of the Euclidean distance
///    transform of the foreground; a marker-controlled watershed on −distance splits touching
///    nuclei along their necks (Malpica et al. 1997). Without splitting, connected components;
/// 6. boundary smoothing: a binary opening with a disk of `smoothingRadius`. Steps 5 and 6 run on
///    each connected component's bounding box, in parallel
///    (``shapeComponents(_:width:height:background:)``);
/// 7. nuclei outside [`minArea`, `maxArea`] or whose mean background exceeds `maxBackground` are
///    dropped; labels are renumbered 1…n in raster order;
/// 8. optional cells: the nuclei expanded by `cellExpansion` without overlap (nearest nucleus).
///
/// ## References
/// - P. Bankhead et al., "QuPath: Open source software for digital pathology image analysis",
///   Sci. Rep. 7:16878, 2017, doi:10.1038/s41598-017-17204-5 (the defaults and the steps).
/// - L. Vincent, "Morphological grayscale reconstruction in image analysis", IEEE TIP 2(2):176–201,
///   1993, doi:10.1109/83.217222.
/// - N. Malpica et al., "Applying watershed algorithms to the segmentation of clustered nuclei",
///   Cytometry 28(4):289–297, 1997, doi:10.1002/(SICI)1097-0320(19970801)28:4<289::AID-CYTO3>3.0.CO;2-7.
public struct NucleusDetector: Sendable, Equatable {
    /// Disk radius of the background estimate, px; 0 = no background subtraction.
    public var backgroundRadius: Double = 16
    /// Median filter radius, px; 0 = none.
    public var medianRadius: Double = 0
    /// Gaussian σ, px; 0 = none.
    public var sigma: Double = 3
    /// Foreground threshold in detection-image units (OD for brightfield).
    public var threshold: Double = 0.1
    /// Use Otsu's threshold of the smoothed image instead of `threshold`.
    public var otsuThreshold = false
    /// Nucleus area limits, px².
    public var minArea: Double = 40
    public var maxArea: Double = 1600
    /// Nuclei on a background above this (detection-image units) are dropped.
    public var maxBackground: Double = 2
    /// Split touching nuclei by the distance transform.
    public var splitByShape = true
    /// Depth of the distance-transform maxima that seed separate nuclei, px.
    public var splitDepth: Double = 1.5
    /// Opening radius that smooths boundaries, px; 0 = none.
    public var smoothingRadius: Double = 1
    /// Cell expansion from each nucleus, px; 0 = no cells.
    public var cellExpansion: Double = 0

    public init() {}

    /// What ``detect(_:)`` found.
    public struct Result: Sendable {
        /// Nuclei, labelled 1…n in raster order of their first pixel.
        public var nuclei: LabelImage
        /// Cells with the label of their nucleus, when `cellExpansion` > 0.
        public var cells: LabelImage?
        /// The threshold applied (Otsu's when chosen).
        public var threshold: Double
    }

    /// Checks the settings and says what to change.
    /// - Throws: ``ImagingError``.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw ImagingError(.invalidArgument, message) }
        }
        for (name, v) in [("background radius", backgroundRadius), ("median radius", medianRadius), ("sigma", sigma),
                          ("split depth", splitDepth), ("smoothing radius", smoothingRadius),
                          ("cell expansion", cellExpansion), ("minimum area", minArea)] {
            try check(v.isFinite && v >= 0, "the \(name) must be a finite number ≥ 0, got \(v)")
        }
        try check(maxArea.isFinite && maxArea >= minArea, "the maximum area must be ≥ the minimum area (\(minArea)), got \(maxArea)")
        try check(threshold.isFinite, "the threshold must be finite")
        try check(maxBackground.isFinite, "the maximum background must be finite")
        // Neighbourhoods wider than 2048 px would take minutes and mean a wrong pixel size.
        for (name, v) in [("background radius", backgroundRadius), ("sigma", sigma), ("cell expansion", cellExpansion),
                          ("median radius", medianRadius), ("smoothing radius", smoothingRadius)] {
            try check(v <= 2048, "the \(name) is \(v) px; more than 2048 px usually means a wrong pixel size")
        }
    }

    /// Detects nuclei in a one-channel image in which they are brighter than their surroundings.
    /// - Throws: ``ImagingError`` for invalid settings, a multi-channel or non-finite image.
    /// - Complexity: O(pixels · log pixels) (the watershed heap); the filters are O(pixels · radius).
    public func detect(_ image: Image<Float>) throws -> Result {
        try validate()
        guard image.channels == 1 else {
            throw ImagingError(.channelCount, "nucleus detection takes one channel, got \(image.channels)")
        }
        var work = image.contiguous()
        guard work.pixels.allSatisfy(\.isFinite) else {
            throw ImagingError(.invalidArgument, "the detection image contains NaN or infinite values")
        }
        let w = work.width, h = work.height, n = w * h
        if medianRadius >= 0.5 {
            work = try medianFilter(work, footprint: .disk(radius: Int(medianRadius.rounded())))
        }
        var background: [Float]? = nil
        if backgroundRadius >= 0.5 {
            let bg = try Morphology.openingByReconstruction(work, radius: Int(backgroundRadius.rounded())).pixels
            let src = work.pixels
            let difference = [Float](unsafeUninitializedCapacity: n) { d, count in
                src.withUnsafeBufferPointer { s in
                    bg.withUnsafeBufferPointer { b in
                        for i in 0..<n { d[i] = s[i] - b[i] }
                    }
                }
                count = n
            }
            work = Image(unchecked: w, h, 1, difference)
            background = bg
        }
        if sigma > 0 { work = try gaussianBlur(work, sigma: sigma) }
        let smoothed = work.pixels
        var level = threshold
        if otsuThreshold {
            level = Threshold.otsu(try Histogram(work, bins: 256))
        }
        let cut = Float(level)
        // The foreground (rows in parallel), then its components as row runs with the holes
        // filled (``ComponentRuns/filled(_:width:height:stride:)``).
        var inside = [UInt8](repeating: 0, count: n)
        smoothed.withUnsafeBufferPointer { s in
            inside.withUnsafeMutableBufferPointer { o in
                let s = UncheckedSendable(s.baseAddress!), o = SharedMutableBuffer(o.baseAddress!)
                let smoothing = sigma > 0
                parallelChunks(h, minimumChunk: 16) { rows in
                    for y in rows {
                        let row = s.value + y * w, out = o.base + y * w
                        guard smoothing else {
                            for x in 0..<w { out[x] = row[x] > cut ? 1 : 0 }
                            continue
                        }
                        // Edges at the zero crossings of the Laplacian of Gaussian: where a blurred
                        // edge is steepest, whatever the nucleus' intensity (a threshold alone would
                        // grow dark nuclei and shrink pale ones). The LoG is the Laplacian of the
                        // smoothed image, taken by the five-point stencil (edges repeated), fused
                        // with the threshold.
                        let up = y > 0 ? row - w : row, down = y < h - 1 ? row + w : row
                        for x in 0..<w {
                            let left = row[x > 0 ? x - 1 : x], right = row[x < w - 1 ? x + 1 : x]
                            let laplacian = (left + right) + (up[x] + down[x]) - 4 * row[x]
                            out[x] = row[x] > cut && laplacian < 0 ? 1 : 0
                        }
                    }
                }
            }
        }
        let components = inside.withUnsafeBufferPointer { ComponentRuns.filled($0.baseAddress!, width: w, height: h, stride: w) }

        // Split and smooth each connected component on its own, then the area and background
        // filters and sequential numbering in raster order (see ``shapeComponents(_:width:height:background:)``).
        let nuclei = try shapeComponents(components, width: w, height: h, background: background)
        let cells = cellExpansion > 0 ? try nuclei.expanded(by: cellExpansion) : nil
        return Result(nuclei: nuclei, cells: cells, threshold: level)
    }

    /// Watershed of −distance from h-maxima markers, inside the foreground. The distances are
    /// square roots of integers, so the flood runs on the integer levels max d² − d² with a
    /// hierarchical queue (the same order as on −distance).
    func splitTouching(_ foreground: Image<UInt8>) throws -> LabelImage {
        let w = foreground.width, h = foreground.height
        let fg = foreground.pixels
        let squared = fg.withUnsafeBufferPointer { m in squaredDistanceTransform(width: w, height: h) { m[$0] == 0 } }
        // Without any background pixel the distance is unbounded; w + h stands for it.
        let unbounded = squared.first == Int.max
        // A component whose distance map has one regional maximum is one nucleus: its h-maxima
        // are that one maximum (every upper level set is then connected), and the flood from one
        // marker fills the whole component, which is connected. Maxima of d² are those of d.
        if !unbounded,
           try regionalMaximaAndCount(squared.map(Double.init), width: w, height: h, connectivity: .eight, mask: foreground).count == 1 {
            return LabelImage(unchecked: w, h, fg.map { $0 != 0 ? 1 : 0 }, count: 1)
        }
        let finite = squared.map { unbounded ? Float(w + h) : Float(Double($0).squareRoot()) }
        // h-maxima: reconstruct (distance − depth) under distance; the regional maxima of the
        // result are the maxima at least `depth` above the saddle to any higher maximum.
        let seed = Image<Float>(unchecked: w, h, 1, finite.map { max(0, $0 - Float(splitDepth)) })
        let mask = Image<Float>(unchecked: w, h, 1, finite)
        let dome = try Morphology.reconstructByDilation(checkedSeed: seed, mask: mask).pixels
        let domeValues = (0..<(w * h)).map { fg[$0] != 0 ? Double(dome[$0]) : -1 }
        // Outside the foreground (−1, below every distance) nothing is flooded.
        let peaks = try regionalMaxima(domeValues, width: w, height: h, connectivity: .eight, mask: foreground)
        let markers = try labelComponents(peaks, connectivity: .eight)
        let top = unbounded ? 0 : squared.max() ?? 0
        guard top < 1 << 24 else {
            return try watershed(finite.map { -Double($0) }, markers: markers, mask: foreground, connectivity: .eight)
        }
        let levels = squared.map { unbounded ? 0 : Int32(top - $0) }
        return try watershed(levels: levels, markers: markers, mask: foreground, connectivity: .eight)
    }
}
