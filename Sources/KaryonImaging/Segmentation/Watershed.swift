/// Marker-controlled watershed exactly as scikit-image 0.26 `segmentation.watershed(image,
/// markers, connectivity, mask, compactness)` floods, including its tie-breaking.
///
/// Markers (nonzero labels) are pushed in raster order with their own relief value and age 0; a popped pixel
/// pushes its unlabelled neighbours (scikit-image's raveled-offset order: see ``Connectivity``)
/// with priority max(image value [+ compactness · distance to its marker], popped priority) and
/// increasing age, on a binary heap ordered by (priority, age) — the same heap as scikit-image's,
/// so equal priorities resolve identically. Without compactness a pixel takes its label when
/// pushed; with compactness when popped. Pixels outside `mask` stay 0.
///
/// - Parameters:
///   - image: the relief (e.g. −distance transform), one channel.
///   - markers: seed labels (0 = unlabelled), same size; seeds outside the mask are dropped.
///   - mask: optional; nonzero = may be flooded.
///   - compactness: > 0 gives the compact watershed (Neubert & Protzel).
/// - Throws: ``ImagingError`` for size mismatches or a negative or non-finite compactness.
/// - Complexity: O(pixels · log pixels).
///
/// ## References
/// - S. Beucher, F. Meyer, "The morphological approach to segmentation: the watershed
///   transformation", in *Mathematical Morphology in Image Processing*, 1993.
/// - P. Neubert, P. Protzel, "Compact watershed and preemptive SLIC", ICPR 2014,
///   doi:10.1109/ICPR.2014.181.
/// - scikit-image 0.26 `skimage.segmentation.watershed`.
public func watershed(
    _ image: [Double], markers: LabelImage, mask: Image<UInt8>? = nil,
    connectivity: Connectivity = .four, compactness: Double = 0
) throws -> LabelImage {
    let w = markers.width, h = markers.height
    guard image.count == w * h else {
        throw ImagingError(.sizeMismatch, "the relief has \(image.count) values, the markers \(w)×\(h)")
    }
    if let mask { try checkMask(mask, for: w, h) }
    guard compactness.isFinite, compactness >= 0 else {
        throw ImagingError(.invalidArgument, "compactness must be ≥ 0, got \(compactness)")
    }
    // Work on a frame padded by one pixel whose border is outside the mask, as scikit-image does.
    let pw = w + 2, ph = h + 2
    // Heap items hold 32-bit indices and ages (at most 8 pushes per pixel).
    guard pw * ph <= Int(Int32.max) / 8 else {
        throw ImagingError(.invalidArgument, "the watershed handles up to 2²⁸ pixels; tile the \(w)×\(h) image")
    }
    var (inside, relief, output) = framed(image, zero: 0, markers: markers, mask: mask)
    let neighbours = connectivity.offsets.map { $0.dy * pw + $0.dx }
    var heap = WatershedHeap()
    inside.withUnsafeBufferPointer { ib in
        relief.withUnsafeBufferPointer { rb in
            output.withUnsafeMutableBufferPointer { ob in
                let inside = ib.baseAddress!, relief = rb.baseAddress!, output = ob.baseAddress!
                for p in 0..<ob.count where output[p] != 0 {
                    heap.push(.init(value: relief[p], age: 0, index: Int32(p)))
                }
                var age: UInt32 = 1
                if compactness > 0 {
                    // The marker pixel each push came from, by age (age 0: the marker itself).
                    var sources: [Int] = [0, 0]
                    while let e = heap.pop() {
                        let index = Int(e.index), source = e.age == 0 ? index : sources[Int(e.age)]
                        if output[index] != 0 && index != source { continue }
                        output[index] = output[source]
                        for n in neighbours {
                            let q = index + n
                            guard inside[q], output[q] == 0 else { continue }
                            age += 1
                            sources.append(source)
                            let dy = Double(q / pw - source / pw), dx = Double(q % pw - source % pw)
                            let value = relief[q] + compactness * (dy * dy + dx * dx).squareRoot()
                            heap.push(.init(value: Swift.max(value, e.value), age: age, index: Int32(q)))
                        }
                    }
                } else {
                    // A pixel takes its label when pushed.
                    while let e = heap.pop() {
                        let index = Int(e.index)
                        for n in neighbours {
                            let q = index + n
                            guard inside[q], output[q] == 0 else { continue }
                            age += 1
                            output[q] = output[index]
                            heap.push(.init(value: Swift.max(relief[q], e.value), age: age, index: Int32(q)))
                        }
                    }
                }
            }
        }
    }
    return unframed(output, width: w, height: h)
}

/// scikit-image's watershed heap (heap_general.pxi): a binary min-heap on (value, age) with the
/// same sift-up and sift-down steps, so that equal keys pop in the same order.
struct WatershedHeap {
    /// 16 bytes: priority, push order (0 for markers) and padded-frame index.
    struct Item {
        var value: Double
        var age: UInt32
        var index: Int32
    }

    var items: [Item] = []

    @inline(__always)
    static func smaller(_ a: Item, _ b: Item) -> Bool {
        a.value < b.value || (a.value == b.value && a.age < b.age)
    }

    mutating func push(_ item: Item) {
        items.append(item)
        items.withUnsafeMutableBufferPointer { a in
            var child = a.count - 1
            while child > 0 {
                let parent = (child + 1) / 2 - 1
                if Self.smaller(a[child], a[parent]) {
                    a.swapAt(parent, child)
                    child = parent
                } else {
                    break
                }
            }
        }
    }

    mutating func pop() -> Item? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return top }
        items.withUnsafeMutableBufferPointer { a in
            a[0] = last
            let count = a.count
            var i = 0
            while true {
                let l = 2 * i + 1, r = 2 * i + 2
                var smallest = i
                guard l < count else { break }
                if Self.smaller(a[l], a[i]) { smallest = l }
                if r < count && Self.smaller(a[r], a[smallest]) { smallest = r }
                if smallest == i { break }
                a.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}

/// Marker-controlled watershed on an integer relief with a hierarchical queue: one FIFO per level,
/// served from the lowest level up, so every push and pop is O(1) (Meyer's flooding algorithm).
///
/// It floods exactly as ``watershed(_:markers:mask:connectivity:compactness:)`` does without
/// compactness — a pixel takes its label when pushed, with priority max(level, popped priority),
/// and equal priorities pop in push order — except that markers of equal level pop in raster
/// order rather than in the binary heap's order. Use it where the relief is integer-valued, e.g.
/// the negated squared distance transform.
///
/// - Parameters:
///   - levels: the relief, row-major, same size as `markers`; at most 2²⁴ distinct levels between
///     its minimum and maximum.
///   - markers: seed labels (0 = unlabelled); seeds outside the mask are dropped.
///   - mask: optional; nonzero = may be flooded.
/// - Throws: ``ImagingError`` for size mismatches or a relief spanning more than 2²⁴ levels.
/// - Complexity: O(pixels + levels).
///
/// ## References
/// - F. Meyer, "Un algorithme optimal de ligne de partage des eaux", 8e congrès AFCET RFIA, 1991.
/// - S. Beucher, F. Meyer, "The morphological approach to segmentation: the watershed
///   transformation", in *Mathematical Morphology in Image Processing*, 1993.
public func watershed(
    levels: [Int32], markers: LabelImage, mask: Image<UInt8>? = nil, connectivity: Connectivity = .four
) throws -> LabelImage {
    let w = markers.width, h = markers.height
    guard levels.count == w * h else {
        throw ImagingError(.sizeMismatch, "the relief has \(levels.count) levels, the markers \(w)×\(h)")
    }
    if let mask { try checkMask(mask, for: w, h) }
    let low = Int(levels.min() ?? 0), span = Int(levels.max() ?? 0) - low + 1
    guard span <= 1 << 24 else {
        throw ImagingError(.invalidArgument, "the relief spans \(span) levels; the hierarchical queue takes up to 2²⁴")
    }
    let pw = w + 2, ph = h + 2
    guard pw * ph <= Int(Int32.max) else {
        throw ImagingError(.invalidArgument, "the watershed handles up to 2³¹ pixels; tile the \(w)×\(h) image")
    }
    // Padded frame outside the mask, as in the heap version.
    var (inside, level, output) = framed(levels.map { Int32(Int($0) - low) }, zero: 0, markers: markers, mask: mask)
    let neighbours = connectivity.offsets.map { $0.dy * pw + $0.dx }
    // One FIFO per level as linked lists through `next` (every pixel is queued at most once: a
    // marker at the start, any other pixel when it takes its label).
    var head = [Int32](repeating: -1, count: span), tail = [Int32](repeating: -1, count: span)
    var next = [Int32](repeating: -1, count: pw * ph)
    inside.withUnsafeBufferPointer { inside in
        level.withUnsafeBufferPointer { level in
            output.withUnsafeMutableBufferPointer { output in
                head.withUnsafeMutableBufferPointer { head in
                    tail.withUnsafeMutableBufferPointer { tail in
                        next.withUnsafeMutableBufferPointer { next in
                            @inline(__always) func push(_ p: Int, _ l: Int) {
                                if tail[l] < 0 { head[l] = Int32(p) } else { next[Int(tail[l])] = Int32(p) }
                                tail[l] = Int32(p)
                            }
                            var current = span
                            for p in 0..<output.count where output[p] != 0 {
                                push(p, Int(level[p]))
                                current = Swift.min(current, Int(level[p]))
                            }
                            while current < span {
                                let first = head[current]
                                guard first >= 0 else { current += 1; continue }
                                let p = Int(first)
                                head[current] = next[p]
                                if next[p] < 0 { tail[current] = -1 }
                                for n in neighbours {
                                    let q = p + n
                                    guard inside[q], output[q] == 0 else { continue }
                                    output[q] = output[p]
                                    push(q, Swift.max(Int(level[q]), current))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return unframed(output, width: w, height: h)
}

/// The padded frame both watersheds flood: one pixel all round, outside the mask, as scikit-image
/// pads. Returns, per framed pixel, whether it may be flooded, its relief and its marker label
/// (0 outside the mask).
private func framed<Relief>(
    _ relief: [Relief], zero: Relief, markers: LabelImage, mask: Image<UInt8>?
) -> (inside: [Bool], relief: [Relief], output: [Int32]) {
    let w = markers.width, h = markers.height, pw = w + 2, ph = h + 2
    var inside = [Bool](repeating: false, count: pw * ph)
    var values = [Relief](repeating: zero, count: pw * ph)
    var output = [Int32](repeating: 0, count: pw * ph)
    let m = mask?.pixels
    for y in 0..<h {
        for x in 0..<w {
            let p = (y + 1) * pw + x + 1, i = y * w + x
            inside[p] = m.map { $0[i] != 0 } ?? true
            values[p] = relief[i]
            output[p] = inside[p] ? markers.labels[i] : 0
        }
    }
    return (inside, values, output)
}

/// The labels inside the frame.
private func unframed(_ output: [Int32], width w: Int, height h: Int) -> LabelImage {
    var labels = [Int32](repeating: 0, count: w * h)
    for y in 0..<h {
        for x in 0..<w { labels[y * w + x] = output[(y + 1) * (w + 2) + x + 1] }
    }
    return LabelImage(unchecked: w, h, labels, count: Int(labels.max() ?? 0))
}
