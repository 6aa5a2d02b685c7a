@testable import KaryonImaging
import Testing

/// The fixed-seed generator of the region-property tests.
private typealias SplitMix = RegionPropertiesTests.SplitMix

@Suite("Reconstruction on winding paths and per-component nucleus shaping")
struct NucleusShapingTests {
    /// Reconstruction by definition: geodesic dilation (3×3, bounded by the mask) until nothing changes.
    func bruteReconstruction(seed: [Float], mask: [Float], w: Int, h: Int) -> [Float] {
        var j = seed
        var changed = true
        while changed {
            changed = false
            var next = j
            for y in 0..<h {
                for x in 0..<w {
                    var v = j[y * w + x]
                    for dy in -1...1 {
                        for dx in -1...1 where (0..<h).contains(y + dy) && (0..<w).contains(x + dx) {
                            v = max(v, j[(y + dy) * w + x + dx])
                        }
                    }
                    v = min(v, mask[y * w + x])
                    if v != next[y * w + x] { next[y * w + x] = v; changed = true }
                }
            }
            j = next
        }
        return j
    }

    @Test("reconstruction of noise (winding paths: another pair of scans, a long queue; a tall image; rows too short for the wavefront, or just long enough) equals repeated geodesic dilation",
          arguments: [(UInt64(1), 61, 47), (2, 61, 47), (3, 61, 47), (4, 23, 300), (5, 6, 41), (6, 7, 9), (7, 8, 6)])
    func reconstructionOfNoise(seed: UInt64, w: Int, h: Int) throws {
        var rng = SplitMix(state: seed)
        let mask = (0..<(w * h)).map { _ in Float(Int.random(in: 0..<64, using: &rng)) / 64 }
        let maskImage = Image<Float>(unchecked: w, h, 1, mask)
        // Erosion seeds a few low plateaus; winding max-min paths through the noise raise them.
        let eroded = try Morphology.erode(maskImage, radius: 3)
        let got = try Morphology.reconstructByDilation(seed: eroded, mask: maskImage).pixels
        #expect(got == bruteReconstruction(seed: eroded.pixels, mask: mask, w: w, h: h))
        // One seeded pixel near the bottom: its value spreads up along the winding paths.
        var spot = [Float](repeating: 0, count: w * h)
        spot[(h - 5) * w + w / 2] = mask[(h - 5) * w + w / 2]
        let fromSpot = try Morphology.reconstructByDilation(seed: Image(unchecked: w, h, 1, spot), mask: maskImage).pixels
        #expect(fromSpot == bruteReconstruction(seed: spot, mask: mask, w: w, h: h))
    }

    /// How two label images differ as partitions: pixels that are background in one only, and
    /// pixels whose label pair is not the best-overlap one-to-one correspondence.
    func partitionDifference(_ a: LabelImage, _ b: LabelImage) -> (background: Int, reassigned: Int) {
        var overlap: [Int64: Int] = [:]
        var background = 0
        for (x, y) in zip(a.labels, b.labels) {
            if (x == 0) != (y == 0) { background += 1 } else if x != 0 { overlap[Int64(x) << 32 | Int64(y), default: 0] += 1 }
        }
        var partner: [Int32: Int32] = [:], best: [Int32: Int] = [:]
        for (key, n) in overlap where n > best[Int32(key >> 32), default: 0] {
            best[Int32(key >> 32)] = n
            partner[Int32(key >> 32)] = Int32(truncatingIfNeeded: key)
        }
        let oneToOne = Set(partner.values).count == partner.count
        let matched = oneToOne ? best.values.reduce(0, +) : 0
        return (background, overlap.values.reduce(0, +) - matched)
    }

    @Test("splitting and smoothing component by component equals the whole-field computation",
          arguments: [(UInt64(7), 1.0), (8, 2.0), (9, 0.0)])
    func componentsEqualWholeField(seed: UInt64, smoothing: Double) throws {
        var rng = SplitMix(state: seed)
        let w = 160, h = 120
        // Overlapping discs (touching nuclei to split), some at the image border.
        var mask = [UInt8](repeating: 0, count: w * h)
        for _ in 0..<40 {
            let cx = Int.random(in: -4..<(w + 4), using: &rng), cy = Int.random(in: -4..<(h + 4), using: &rng)
            let r = Int.random(in: 3...9, using: &rng)
            for y in max(0, cy - r)..<min(h, cy + r + 1) {
                for x in max(0, cx - r)..<min(w, cx + r + 1) where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r {
                    mask[y * w + x] = 1
                }
            }
        }
        // Isolated rectangles fill their bounding boxes: only a margin around the box holds the
        // background that the distance transform and the opening must see.
        for (rx, ry, rw, rh) in [(20, 30, 14, 9), (100, 70, 9, 15)] {
            for y in (ry - 3)..<(ry + rh + 3) {
                for x in (rx - 3)..<(rx + rw + 3) {
                    let inside = (rx..<(rx + rw)).contains(x) && (ry..<(ry + rh)).contains(y)
                    mask[y * w + x] = inside ? 1 : 0
                }
            }
        }
        // An isolated lopsided dumbbell touching its box on every side: where the two nuclei
        // divide depends on the distance to the background beyond the box.
        for y in 88...112 { for x in 20...60 { mask[y * w + x] = 0 } }
        for y in 91...109 {
            for x in 23...57 {
                let big = x <= 35, neck = (36...42).contains(x) && (99...102).contains(y), small = x >= 43 && (95...105).contains(y)
                if big || neck || small { mask[y * w + x] = 1 }
            }
        }
        let foreground = Image<UInt8>(unchecked: w, h, 1, mask)
        var detector = NucleusDetector()
        detector.smoothingRadius = smoothing
        detector.splitDepth = 1
        detector.minArea = 0
        detector.maxArea = Double(w * h)
        let components = ComponentRuns(foreground)
        let perComponent = try detector.shapeComponents(components, width: w, height: h, background: nil)
        // Whole field: one distance transform, reconstruction and flood, then one opening.
        var whole = try detector.splitTouching(foreground)
        let opened = smoothing >= 0.5 ? try Morphology.open(whole.foreground, radius: Int(smoothing.rounded())).pixels : foreground.pixels
        for i in 0..<(w * h) where opened[i] == 0 { whole.labels[i] = 0 }
        /// Labels left with pixels: nuclei the opening removes are not numbered.
        func survivors(_ labels: [Int32]) -> Int { Set(labels).subtracting([0]).count }
        #expect(perComponent.count >= 40 / 2, "the discs should give many nuclei")
        // The same nuclei, pixel for pixel, except where the flood meets a tie between two markers
        // of equal height: which marker's pixel pops first depends on the heap's other contents.
        let difference = partitionDifference(perComponent, whole)
        #expect(perComponent.count == survivors(whole.labels))
        #expect(difference.background == 0)
        #expect(difference.reassigned <= 8, "\(difference.reassigned) pixels in other nuclei")
        // Without splitting each component is one nucleus.
        detector.splitByShape = false
        let unsplit = try detector.shapeComponents(components, width: w, height: h, background: nil)
        let labelled = try labelComponents(foreground, connectivity: .eight)
        #expect(unsplit.count == survivors((0..<(w * h)).map { opened[$0] != 0 ? labelled.labels[$0] : 0 }))
        if smoothing < 0.5 { #expect(unsplit == labelled, "numbered in raster order, as labelComponents numbers them") }
    }

    @Test("components found from row runs (4- and 8-connected, and with holes filled) equal a flood fill's, numbering and boxes, on random masks",
          arguments: [(1, 1), (1, 37), (37, 1), (9, 7), (64, 48), (203, 117)])
    func componentRunsEqualFloodFill(w: Int, h: Int) throws {
        var random = SplitMix(state: UInt64(w * 7919 + h))
        for density in [0.0, 0.2, 0.5, 0.65, 0.8, 1.0] {
            let mask = (0..<(w * h)).map { _ in Double(random.next() % 1000) / 1000 < density ? UInt8(1 + random.next() % 3) : 0 }
            let image = Image<UInt8>(unchecked: w, h, 1, mask)
            let filled = mask.withUnsafeBufferPointer { ComponentRuns.filled($0.baseAddress!, width: w, height: h, stride: w) }
            let cases: [(ComponentRuns, (labels: [Int32], count: Int))] = [
                (ComponentRuns(image, connectivity: .eight), Self.floodLabels(mask, w, h, eight: true)),
                (ComponentRuns(image, connectivity: .four), Self.floodLabels(mask, w, h, eight: false)),
                (filled, Self.floodLabels(try Morphology.fillHoles(image).pixels, w, h, eight: true)),
            ]
            for (runs, expected) in cases {
                var painted = [Int32](repeating: 0, count: w * h)
                for c in stride(from: 1, through: runs.count, by: 1) { runs.paint(c, Int32(c), into: &painted, width: w) }
                #expect(runs.count == expected.count)
                #expect(painted == expected.labels, "\(w)×\(h) at density \(density)")
                for c in stride(from: 1, through: runs.count, by: 1) {
                    let pixels = (0..<(w * h)).filter { expected.labels[$0] == Int32(c) }
                    #expect(runs.minX[c] == pixels.map { $0 % w }.min() && runs.maxX[c] == pixels.map { $0 % w }.max())
                    #expect(runs.minY[c] == pixels.map { $0 / w }.min() && runs.maxY[c] == pixels.map { $0 / w }.max())
                }
            }
            #expect(try labelComponents(image, connectivity: .eight).labels == cases[0].1.labels)
            #expect(try labelComponents(image, connectivity: .four).labels == cases[1].1.labels)
        }
        // A ring with a hole holding an island: filled, one component; not filled, two.
        var ring = [UInt8](repeating: 0, count: 81)
        for y in 1...7 { for x in 1...7 where y == 1 || y == 7 || x == 1 || x == 7 { ring[y * 9 + x] = 1 } }
        ring[4 * 9 + 4] = 1
        let filledRing = ring.withUnsafeBufferPointer { ComponentRuns.filled($0.baseAddress!, width: 9, height: 9, stride: 9) }
        #expect(filledRing.count == 1 && filledRing.runs.map { Int($0.last - $0.first + 1) }.reduce(0, +) == 49)
        #expect(ComponentRuns(Image<UInt8>(unchecked: 9, 9, 1, ring)).count == 2)
    }

    /// Labels by flood fill from each unlabelled pixel in raster order: numbered by first pixel.
    static func floodLabels(_ mask: [UInt8], _ w: Int, _ h: Int, eight: Bool) -> (labels: [Int32], count: Int) {
        var labels = [Int32](repeating: 0, count: w * h)
        var next: Int32 = 0
        for start in 0..<(w * h) where mask[start] != 0 && labels[start] == 0 {
            next += 1
            labels[start] = next
            var stack = [start]
            while let p = stack.popLast() {
                for dy in -1...1 {
                    for dx in -1...1 where (dx != 0 || dy != 0) && (eight || dx == 0 || dy == 0) {
                        let x = p % w + dx, y = p / w + dy
                        guard x >= 0, x < w, y >= 0, y < h, mask[y * w + x] != 0, labels[y * w + x] == 0 else { continue }
                        labels[y * w + x] = next
                        stack.append(y * w + x)
                    }
                }
            }
        }
        return (labels, Int(next))
    }
}
