/// Regional maxima as scikit-image 0.26 `morphology.local_maxima(image, connectivity,
/// allow_borders=True)` defines them: connected plateaus of equal value whose every neighbour
/// outside the plateau is strictly lower. Returns 1 on maxima, 0 elsewhere.
///
/// Each plateau is flooded once (connectivity `eight` is scikit-image's default for 2-D); a pixel
/// without an equal neighbour is decided on the spot. The values are framed by one pixel of −∞
/// that is never part of a plateau, so the scan needs no bounds checks.
///
/// - Parameter mask: optional, same size; pixels where it is 0 are never maxima and never join a
///   plateau, but their values still count as neighbours. When every masked-out value is below
///   all values inside (e.g. −1 around a distance map), the result inside the mask is that of the
///   whole image, found without flooding the outside.
/// - Throws: ``ImagingError`` for a size mismatch or NaN values.
/// - Complexity: O(pixels).
public func regionalMaxima(
    _ values: [Double], width: Int, height: Int, connectivity: Connectivity = .eight, mask: Image<UInt8>? = nil
) throws -> Image<UInt8> {
    try regionalMaximaAndCount(values, width: width, height: height, connectivity: connectivity, mask: mask).maxima
}

/// ``regionalMaxima(_:width:height:connectivity:mask:)`` and the number of maximal plateaus.
func regionalMaximaAndCount(
    _ values: [Double], width: Int, height: Int, connectivity: Connectivity = .eight, mask: Image<UInt8>? = nil
) throws -> (maxima: Image<UInt8>, count: Int) {
    guard width > 0, height > 0, values.count == width * height else {
        throw ImagingError(.sizeMismatch, "expected \(width)×\(height) values, got \(values.count)")
    }
    if let mask { try checkMask(mask, for: width, height) }
    let inside = mask?.pixels
    guard !values.contains(where: \.isNaN) else { throw ImagingError(.invalidArgument, "regional maxima need values without NaN") }
    let pw = width + 2, ph = height + 2
    var framed = [Double](repeating: -.infinity, count: pw * ph)
    // 1 = visited (the frame, and pixels outside the mask, count as visited).
    var visited = [UInt8](repeating: 1, count: pw * ph)
    framed.withUnsafeMutableBufferPointer { f in
        visited.withUnsafeMutableBufferPointer { seen in
            values.withUnsafeBufferPointer { v in
                for y in 0..<height {
                    (f.baseAddress! + (y + 1) * pw + 1).update(from: v.baseAddress! + y * width, count: width)
                    let row = seen.baseAddress! + (y + 1) * pw + 1
                    if let inside {
                        inside.withUnsafeBufferPointer { m in
                            for x in 0..<width { row[x] = m[y * width + x] != 0 ? 0 : 1 }
                        }
                    } else {
                        row.update(repeating: 0, count: width)
                    }
                }
            }
        }
    }
    let offsets = connectivity.offsets.map { $0.dy * pw + $0.dx }
    var out = [UInt8](repeating: 0, count: values.count)
    var plateau: [Int] = []
    var count = 0
    framed.withUnsafeBufferPointer { vb in
        visited.withUnsafeMutableBufferPointer { sb in
            offsets.withUnsafeBufferPointer { ob in
                out.withUnsafeMutableBufferPointer { out in
                    let v = vb.baseAddress!, seen = sb.baseAddress!
                    for y in 1...height {
                        for start in (y * pw + 1)...(y * pw + width) where seen[start] == 0 {
                            let value = v[start]
                            seen[start] = 1
                            var isMaximum = true, hasEqual = false
                            for n in ob {
                                let u = v[start + n]
                                if u > value { isMaximum = false } else if u == value && seen[start + n] == 0 { hasEqual = true }
                            }
                            if !hasEqual {
                                if isMaximum {
                                    out[(y - 1) * width + start - y * pw - 1] = 1
                                    count += 1
                                }
                                continue
                            }
                            // Flood the plateau of equal values.
                            plateau.removeAll(keepingCapacity: true)
                            plateau.append(start)
                            var k = 0
                            while k < plateau.count {
                                let p = plateau[k]
                                k += 1
                                for n in ob {
                                    let q = p + n, u = v[q]
                                    if u > value {
                                        isMaximum = false
                                    } else if u == value && seen[q] == 0 {
                                        seen[q] = 1
                                        plateau.append(q)
                                    }
                                }
                            }
                            if isMaximum {
                                count += 1
                                for p in plateau {
                                    let py = p / pw
                                    out[(py - 1) * width + p - py * pw - 1] = 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return (Image(unchecked: width, height, 1, out), count)
}
