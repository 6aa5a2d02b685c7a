/// Regional maxima as scikit-image 0.26 `morphology.local_maxima(image, connectivity,
/// allow_borders=True)` defines them: connected plateaus of equal value whose every neighbour
/// outside the plateau is strictly lower. Returns 1 on maxima, 0 elsewhere.
///
/// Each plateau is flooded once (connectivity `eight` is scikit-image's default for 2-D).
/// - Throws: ``ImagingError`` for a size mismatch or NaN values.
/// - Complexity: O(pixels).
public func regionalMaxima(
    _ values: [Double], width: Int, height: Int, connectivity: Connectivity = .eight
) throws -> Image<UInt8> {
    guard width > 0, height > 0, values.count == width * height else {
        throw ImagingError(.sizeMismatch, "expected \(width)×\(height) values, got \(values.count)")
    }
    guard !values.contains(where: \.isNaN) else { throw ImagingError(.invalidArgument, "regional maxima need values without NaN") }
    var out = [UInt8](repeating: 0, count: values.count)
    var visited = [Bool](repeating: false, count: values.count)
    let offsets = connectivity.offsets
    var plateau: [Int] = []
    for start in 0..<values.count where !visited[start] {
        let v = values[start]
        var isMaximum = true
        plateau.removeAll(keepingCapacity: true)
        plateau.append(start)
        visited[start] = true
        var k = 0
        while k < plateau.count {
            let p = plateau[k]
            k += 1
            let y = p / width, x = p - y * width
            for (dy, dx) in offsets {
                let yy = y + dy, xx = x + dx
                guard yy >= 0, yy < height, xx >= 0, xx < width else { continue }
                let q = yy * width + xx
                if values[q] > v {
                    isMaximum = false
                } else if values[q] == v && !visited[q] {
                    visited[q] = true
                    plateau.append(q)
                }
            }
        }
        if isMaximum { for p in plateau { out[p] = 1 } }
    }
    return Image(unchecked: width, height, 1, out)
}
