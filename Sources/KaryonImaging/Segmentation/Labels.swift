/// Which neighbours touch: 4 (edges) or 8 (edges and corners), scikit-image's `connectivity` 1 and 2.
public enum Connectivity: Int, Sendable, CaseIterable {
    case four = 1
    case eight = 2

    /// Row/column offsets of the neighbours, in scikit-image's raveled-offset order (nearest first,
    /// then raster order): up, left, right, down, then the diagonals.
    public var offsets: [(dy: Int, dx: Int)] {
        let edges = [(-1, 0), (0, -1), (0, 1), (1, 0)]
        return self == .four ? edges : edges + [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    }
}

/// An instance label image: 0 is background, 1…`count` are objects.
public struct LabelImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major labels, `width · height` of them.
    public var labels: [Int32]
    /// The largest label.
    public var count: Int

    /// - Throws: ``ImagingError`` for a size mismatch or a negative label.
    public init(width: Int, height: Int, labels: [Int32]) throws {
        guard width > 0, height > 0, labels.count == width * height else {
            throw ImagingError(.sizeMismatch, "expected \(width)×\(height) labels, got \(labels.count)")
        }
        guard labels.allSatisfy({ $0 >= 0 }) else { throw ImagingError(.invalidArgument, "labels must be ≥ 0") }
        self.width = width
        self.height = height
        self.labels = labels
        self.count = Int(labels.max() ?? 0)
    }

    init(unchecked width: Int, _ height: Int, _ labels: [Int32], count: Int) {
        self.width = width
        self.height = height
        self.labels = labels
        self.count = count
    }

    /// Pixels per label, indexed by label (entry 0 is the background).
    public var areas: [Int] {
        var a = [Int](repeating: 0, count: count + 1)
        for l in labels { a[Int(l)] += 1 }
        return a
    }

    /// Nonzero where a label is set.
    public var foreground: Image<UInt8> {
        Image(unchecked: width, height, 1, labels.map { $0 != 0 ? 1 : 0 })
    }

    /// The labels renumbered 1…n in order of first appearance in raster order, dropping gaps.
    public func relabeledSequentially() -> LabelImage {
        var map = [Int32](repeating: -1, count: count + 1)
        map[0] = 0
        var next: Int32 = 0
        let out = labels.map { l -> Int32 in
            if map[Int(l)] < 0 { next += 1; map[Int(l)] = next }
            return map[Int(l)]
        }
        return LabelImage(unchecked: width, height, out, count: Int(next))
    }

    /// As a 16-bit single-channel image (for PNG/TIFF label files).
    /// - Throws: ``ImagingError`` when there are more than 65535 labels.
    public func image16() throws -> Image<UInt16> {
        guard count <= 65535 else {
            throw ImagingError(.invalidArgument, "\(count) labels do not fit a 16-bit label image")
        }
        return Image(unchecked: width, height, 1, labels.map { UInt16($0) })
    }
}

/// Connected components of the nonzero pixels of `mask`, numbered 1…n in raster order of each
/// component's first pixel, as scikit-image `measure.label(mask, connectivity=…)` numbers them.
///
/// The components of the mask's row runs (``ComponentRuns``: union–find over runs), painted.
/// - Throws: ``ImagingError`` for a multi-channel mask.
/// - Complexity: O(pixels) to find the runs, O(runs · α(runs)) to join them.
///
/// ## References
/// - K. Wu, E. Otoo, K. Suzuki, "Optimizing two-pass connected-component labeling algorithms",
///   Pattern Anal. Appl. 12:117–135, 2009, doi:10.1007/s10044-008-0109-y.
/// - scikit-image 0.26 `skimage.measure.label`.
public func labelComponents(_ mask: Image<UInt8>, connectivity: Connectivity = .eight) throws -> LabelImage {
    guard mask.channels == 1 else {
        throw ImagingError(.channelCount, "labelling needs a one-channel mask, got \(mask.channels) channels")
    }
    let components = ComponentRuns(mask, connectivity: connectivity)
    var labels = [Int32](repeating: 0, count: mask.width * mask.height)
    for c in stride(from: 1, through: components.count, by: 1) { components.paint(c, Int32(c), into: &labels, width: mask.width) }
    return LabelImage(unchecked: mask.width, mask.height, labels, count: components.count)
}
