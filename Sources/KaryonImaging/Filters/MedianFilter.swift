/// Median filter of every channel over a ``Footprint``, with nearest-edge extension, as
/// `scipy.ndimage.median_filter(footprint=…, mode='nearest')` (and scikit-image's
/// `filters.median(..., mode='nearest')`). The result keeps the input's sample type.
///
/// Footprints have an odd number of offsets, so the median is one of the window's samples.
///
/// - Throws: ``ImagingError`` when the radius is negative.
/// - Complexity: 8-bit input uses a sliding histogram (T. S. Huang, G. J. Yang, G. Y. Tang,
///   "A fast two-dimensional median filtering algorithm", IEEE TASSP 27(1):13–18, 1979,
///   doi:10.1109/TASSP.1979.1163188): O(pixels · radius). Other types select the median of each
///   window: O(pixels · |footprint|).
@_specialize(exported: true, where P == UInt8)
@_specialize(exported: true, where P == UInt16)
public func medianFilter<P: PixelComponent>(_ image: Image<P>, footprint: Footprint) throws -> Image<P> {
    let r = footprint.radius
    guard r >= 0 else { throw ImagingError(.invalidArgument, "median radius must be 0 or more, got \(r)") }
    if r == 0 { return image.contiguous() }
    let w = image.width, h = image.height, c = image.channels
    let src = image.contiguous().pixels
    let halfWidths = (-r...r).map { footprint.halfWidth(atRow: $0) }
    let count = footprint.count
    let rank = count / 2
    var out = src
    src.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { o in
            let sp = UncheckedSendable(s)
            let op = SharedMutableBuffer(o.baseAddress!)
            @inline(__always) func at(_ x: Int, _ y: Int, _ ch: Int) -> P {
                sp.value[(min(max(y, 0), h - 1) * w + min(max(x, 0), w - 1)) * c + ch]
            }
            parallelChunks(h * c, minimumChunk: 2) { jobs in
                if let bytes = UncheckedSendable(sp.value) as? UncheckedSendable<UnsafeBufferPointer<UInt8>> {
                    // Sliding histogram along each row.
                    var hist = [Int](repeating: 0, count: 256)
                    for job in jobs {
                        let y = job / c, ch = job % c
                        func v(_ x: Int, _ yy: Int) -> Int {
                            Int(bytes.value[(min(max(yy, 0), h - 1) * w + min(max(x, 0), w - 1)) * c + ch])
                        }
                        for i in 0..<256 { hist[i] = 0 }
                        for dy in -r...r {
                            let hw = halfWidths[dy + r]
                            for dx in -hw...hw { hist[v(dx, y + dy)] += 1 }
                        }
                        for x in 0..<w {
                            if x > 0 {
                                for dy in -r...r {
                                    let hw = halfWidths[dy + r]
                                    hist[v(x - 1 - hw, y + dy)] -= 1
                                    hist[v(x + hw, y + dy)] += 1
                                }
                            }
                            var seen = 0
                            var m = 0
                            while true {
                                seen += hist[m]
                                if seen > rank { break }
                                m += 1
                            }
                            op[(y * w + x) * c + ch] = P(clampingNative: Float(m))
                        }
                    }
                } else {
                    var window = [P]()
                    window.reserveCapacity(count)
                    for job in jobs {
                        let y = job / c, ch = job % c
                        for x in 0..<w {
                            window.removeAll(keepingCapacity: true)
                            for dy in -r...r {
                                let hw = halfWidths[dy + r]
                                for dx in -hw...hw { window.append(at(x + dx, y + dy, ch)) }
                            }
                            op[(y * w + x) * c + ch] = select(&window, rank)
                        }
                    }
                }
            }
        }
    }
    return Image(unchecked: w, h, c, out)
}

/// The `k`-th smallest element (0-based) by quickselect; reorders `values`.
func select<T: Comparable>(_ values: inout [T], _ k: Int) -> T {
    var lo = 0, hi = values.count - 1
    while lo < hi {
        let pivot = values[(lo + hi) / 2]
        var i = lo, j = hi
        while i <= j {
            while values[i] < pivot { i += 1 }
            while pivot < values[j] { j -= 1 }
            if i <= j {
                values.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if k <= j { hi = j } else if k >= i { lo = i } else { return values[k] }
    }
    return values[k]
}
