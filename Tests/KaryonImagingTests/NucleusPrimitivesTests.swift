import KaryonImaging
import Testing

@Suite("Label expansion and outlines")
struct NucleusPrimitivesTests {
    func labels(_ rows: [[Int32]]) throws -> LabelImage {
        try LabelImage(width: rows[0].count, height: rows.count, labels: rows.flatMap { $0 })
    }

    @Test("expansion gives each pixel within the distance the label of the nearest labelled pixel (brute force)")
    func expansionMatchesBruteForce() throws {
        let w = 40, h = 30
        var raw = [Int32](repeating: 0, count: w * h)
        // Fixed scattered seeds and a small block.
        for (k, (x, y)) in [(3, 4), (20, 10), (35, 25), (10, 22), (28, 3)].enumerated() { raw[y * w + x] = Int32(k + 1) }
        for y in 14...16 { for x in 30...33 { raw[y * w + x] = 6 } }
        let image = try LabelImage(width: w, height: h, labels: raw)
        let grown = try image.expanded(by: 6)
        for y in 0..<h {
            for x in 0..<w {
                var best = Int.max, owners = Set<Int32>()
                for j in 0..<(w * h) where raw[j] != 0 {
                    let d = (j % w - x) * (j % w - x) + (j / w - y) * (j / w - y)
                    if d < best { best = d; owners = [raw[j]] } else if d == best { owners.insert(raw[j]) }
                }
                let got = grown.labels[y * w + x]
                if best > 36 {
                    #expect(got == 0)
                } else {
                    #expect(owners.contains(got), "(\(x), \(y)) got \(got), nearest \(owners)")
                }
            }
        }
        #expect(try image.expanded(by: 0) == image)
        #expect(throws: ImagingError.self) { try image.expanded(by: -1) }
    }

    @Test("expansion within a reach equals the whole feature transform's, label for label (blobs, tall and wide images; reaches scanned by window and by envelope)",
          arguments: [(97, 61, 4.0), (61, 97, 6.5), (300, 40, 10.0), (40, 300, 1.0), (250, 180, 64.9), (180, 250, 65.0)])
    func expansionEqualsFeatureTransform(w: Int, h: Int, distance: Double) throws {
        var random = RegionPropertiesTests.SplitMix(state: UInt64(w * 1000 + h))
        var raw = [Int32](repeating: 0, count: w * h)
        // Small blobs (some touching, some at the edges) and single pixels.
        for label in 1...Int32(w * h / 150) {
            let cx = Int.random(in: 0..<w, using: &random), cy = Int.random(in: 0..<h, using: &random)
            let r = Int.random(in: 0...3, using: &random)
            for y in Swift.max(0, cy - r)...Swift.min(h - 1, cy + r) {
                for x in Swift.max(0, cx - r)...Swift.min(w - 1, cx + r) where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r {
                    raw[y * w + x] = label
                }
            }
        }
        let image = try LabelImage(width: w, height: h, labels: raw)
        let limit = Int(distance * distance)
        let transform = try #require(nearestSourceTransform(width: w, height: h, within: limit) { raw[$0] != 0 })
        let expected = (0..<(w * h)).map { i in
            raw[i] == 0 && transform.squaredDistance[i] <= limit ? raw[transform.nearest[i]] : raw[i]
        }
        #expect(try image.expanded(by: distance).labels == expected)
        // From 2¹⁵ px the whole feature transform is used instead; a reach spanning the image gives
        // every pixel its nearest label on both paths, with the same choices on ties.
        let spanning = try image.expanded(by: Double(w + h))
        #expect(!spanning.labels.contains(0))
        #expect(try image.expanded(by: 40_000).labels == spanning.labels)
    }

    @Test("outlines run along pixel edges and enclose each hole-free label's area")
    func outlines() throws {
        let l = try labels([
            [0, 1, 1, 0, 0],
            [0, 1, 1, 2, 0],
            [0, 0, 0, 2, 2],
            [3, 0, 0, 0, 0],
        ])
        let p = l.outlines()
        #expect(p[0] == PixelPolygon(x: [1, 3, 3, 1], y: [0, 0, 2, 2]))
        #expect(p[1].area == 3 && p[2].area == 1)
        #expect(p[1].count == 6)
        // A blob with a concave boundary.
        var raw = [Int32](repeating: 0, count: 20 * 20)
        for y in 0..<20 { for x in 0..<20 where (x - 10) * (x - 10) + (y - 9) * (y - 9) <= 49 && !(x > 12 && y > 8 && y < 11) { raw[y * 20 + x] = 1 } }
        let blob = try LabelImage(width: 20, height: 20, labels: raw)
        #expect(blob.outlines()[0].area == Double(raw.filter { $0 == 1 }.count))
    }
}
