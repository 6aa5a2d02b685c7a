import Foundation
import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("Segmentation primitives against scikit-image 0.26 / SciPy")
struct SegmentationTests {
    static func mask(_ name: String) throws -> Image<UInt8> {
        try Fixtures.rgb8("segmentation/" + name).map { $0 != 0 ? 1 : 0 }
    }

    static func labels(_ name: String) throws -> [Int32] {
        switch try Fixtures.image("segmentation/" + name) {
        case .uint8(let i): return i.pixels.map(Int32.init)
        case .uint16(let i): return i.pixels.map(Int32.init)
        default: throw FixtureError("\(name) is not an integer label image")
        }
    }

    static func values(_ name: String) throws -> [Double] { try Fixtures.npy("segmentation/" + name).values }

    @Test("label: 4- and 8-connected components, numbered as measure.label numbers them")
    func labelling() throws {
        let blobs = try Self.mask("blobs.png")
        #expect(try labelComponents(blobs, connectivity: .four).labels == Self.labels("blobs-label4.png"))
        #expect(try labelComponents(blobs, connectivity: .eight).labels == Self.labels("blobs-label8.png"))
        // Literal: a diagonal pair is one object with 8-connectivity, two with 4.
        let diagonal = try Image<UInt8>(width: 2, height: 2, channels: 1, pixels: [1, 0, 0, 1])
        #expect(try labelComponents(diagonal, connectivity: .eight).count == 1)
        #expect(try labelComponents(diagonal, connectivity: .four).labels == [1, 0, 0, 2])
    }

    @Test("distance transform equals distance_transform_edt exactly")
    func distance() throws {
        let d = try distanceTransform(try Self.mask("blobs.png"))
        #expect(d == (try Self.values("blobs-edt.npy")))
        // Literal: a 1×5 strip with one zero at the left end.
        let strip = try Image<UInt8>(width: 5, height: 1, channels: 1, pixels: [0, 1, 1, 1, 1])
        #expect(try distanceTransform(strip) == [0, 1, 2, 3, 4])
        let full = Image<UInt8>(width: 3, height: 2, channels: 1, repeating: 1)
        #expect(try distanceTransform(full).allSatisfy { $0 == .infinity })
    }

    @Test("squared distance and nearest-source transforms equal brute force across column blocks (131 wide)")
    func distanceAcrossBlocks() throws {
        var generator = RegionPropertiesTests.SplitMix(state: 131)
        let w = 131, h = 37
        let sources = (0..<(w * h)).filter { _ in Int.random(in: 0..<40, using: &generator) == 0 }
        let isSource = Set(sources)
        let squared = squaredDistanceTransform(width: w, height: h) { isSource.contains($0) }
        let nearest = try #require(nearestSourceTransform(width: w, height: h) { isSource.contains($0) })
        for p in 0..<(w * h) {
            let best = sources.map { (($0 % w) - (p % w)) * (($0 % w) - (p % w)) + ($0 / w - p / w) * ($0 / w - p / w) }.min()!
            #expect(squared[p] == best, "pixel \(p)")
            #expect(nearest.squaredDistance[p] == best)
            let q = nearest.nearest[p]
            #expect((q % w - p % w) * (q % w - p % w) + (q / w - p / w) * (q / w - p / w) == best && isSource.contains(q))
        }
    }

    @Test("binary erosion, dilation, opening, closing with disks", arguments: [1, 2, 3])
    func binaryMorphology(radius: Int) throws {
        let blobs = try Self.mask("blobs.png")
        #expect(try Morphology.erode(blobs, radius: radius) == Self.mask("blobs-erode-r\(radius).png"))
        #expect(try Morphology.dilate(blobs, radius: radius) == Self.mask("blobs-dilate-r\(radius).png"))
        #expect(try Morphology.open(blobs, radius: radius) == Self.mask("blobs-open-r\(radius).png"))
        #expect(try Morphology.close(blobs, radius: radius) == Self.mask("blobs-close-r\(radius).png"))
    }

    @Test("fill holes and remove small objects")
    func holesAndSpecks() throws {
        let blobs = try Self.mask("blobs.png")
        #expect(try Morphology.fillHoles(blobs) == Self.mask("blobs-filled.png"))
        #expect(try Morphology.removeSmallObjects(blobs, minimumArea: 20, connectivity: .four) == Self.mask("blobs-small-removed.png"))
    }

    @Test("grey erosion, dilation (reflect edges) and reconstruction")
    func greyMorphology() throws {
        let camera = try Fixtures.rgb8("segmentation/camera-64x48.png").map { Float($0) / 255 }
        func asDouble(_ i: Image<Float>) -> [Double] { i.pixels.map(Double.init) }
        let expectedErode = try Self.values("camera-grey-erode-r2.npy")
        #expect(firstMismatch(asDouble(try Morphology.erode(camera, radius: 2)), expectedErode, absolute: 1e-7) == nil)
        #expect(firstMismatch(asDouble(try Morphology.dilate(camera, radius: 2)), try Self.values("camera-grey-dilate-r2.npy"),
                              absolute: 1e-7) == nil)
        let opened = try Morphology.openingByReconstruction(camera, radius: 4)
        #expect(firstMismatch(asDouble(opened), try Self.values("camera-open-reconstruct-r4.npy"), absolute: 1e-7) == nil)
    }

    @Test("Laplacian of Gaussian equals ndimage.gaussian_laplace (reflect edges)", arguments: [1.5, 3.0])
    func laplacian(sigma: Double) throws {
        let camera = try Fixtures.rgb8("segmentation/camera-64x48.png")
        let log = try laplacianOfGaussian(camera, sigma: sigma).pixels.map(Double.init)
        let expected = try Self.values("camera-log-s\(sigma == 3 ? "3" : "1.5").npy")
        #expect(firstMismatch(log, expected, absolute: 2e-6) == nil)
        // Property: a constant image gives one uniform, near-zero response (not exactly 0: the
        // kernel is truncated at 4σ, as SciPy's is).
        let flat = try laplacianOfGaussian(Image<UInt8>(width: 9, height: 7, channels: 1, repeating: 100), sigma: sigma).pixels
        #expect(flat.allSatisfy { abs($0 - flat[0]) < 1e-7 && abs($0) < 1e-3 })
    }

    @Test("regional maxima (plateaus strictly above their neighbours)")
    func maxima() throws {
        let camera = try Fixtures.rgb8("segmentation/camera-64x48.png")
        let v = camera.pixels.map(Double.init)
        #expect(try regionalMaxima(v, width: 64, height: 48, connectivity: .eight) == Self.mask("camera-maxima8.png"))
        #expect(try regionalMaxima(v, width: 64, height: 48, connectivity: .four) == Self.mask("camera-maxima4.png"))
    }

    @Test("grey erosion and dilation by disk(r) equal a direct scan of the footprint with reflected edges",
          arguments: [(1, 1, 0), (7, 1, 3), (9, 6, 2), (5, 4, 6), (16, 11, 4), (3, 8, 9)])
    func greyRankBruteForce(width: Int, height: Int, radius: Int) throws {
        var state: UInt64 = UInt64(width * 1000 + height * 10 + radius)
        let pixels = (0..<(width * height)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        let image = try Image<Float>(width: width, height: height, channels: 1, pixels: pixels)
        func reflect(_ i: Int, _ n: Int) -> Int {
            if n == 1 { return 0 }
            var i = i % (2 * n)
            if i < 0 { i += 2 * n }
            return i < n ? i : 2 * n - 1 - i
        }
        var low = [Float](repeating: .infinity, count: width * height), high = [Float](repeating: -.infinity, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                for dy in -radius...radius {
                    for dx in -radius...radius where dx * dx + dy * dy <= radius * radius {
                        let v = pixels[reflect(y + dy, height) * width + reflect(x + dx, width)]
                        low[y * width + x] = min(low[y * width + x], v)
                        high[y * width + x] = max(high[y * width + x], v)
                    }
                }
            }
        }
        #expect(try Morphology.erode(image, radius: radius).pixels == low)
        #expect(try Morphology.dilate(image, radius: radius).pixels == high)
    }

    @Test("regional maxima inside a mask: outside pixels never join a plateau but count as neighbours")
    func maximaInMask() throws {
        // Row 0: a plateau of 5 that continues outside the mask, a 7 outside beside a 6 inside.
        let v: [Double] = [5, 5, 5, 1, 6, 7,
                           1, 1, 1, 1, 1, 1]
        let mask = try Image<UInt8>(width: 6, height: 2, channels: 1, pixels: [1, 1, 0, 1, 1, 0,
                                                                               1, 1, 1, 1, 1, 1])
        #expect(try regionalMaxima(v, width: 6, height: 2, connectivity: .eight, mask: mask).pixels
            == [1, 1, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0])
        // When everything outside is below everything inside, the result inside equals the unmasked one.
        let camera = try Fixtures.rgb8("segmentation/camera-64x48.png").pixels.map(Double.init)
        let inside = camera.map { $0 > 100 }
        let below = zip(camera, inside).map { $1 ? $0 : -1 }
        let masked = try regionalMaxima(below, width: 64, height: 48, connectivity: .eight,
                                        mask: Image(width: 64, height: 48, channels: 1, pixels: inside.map { $0 ? 1 : 0 }))
        let whole = try regionalMaxima(below, width: 64, height: 48, connectivity: .eight)
        #expect(masked.pixels == zip(whole.pixels, inside).map { $1 ? $0 : 0 })
    }

    @Test("watershed: discs split on the distance transform, every connectivity and compactness",
          arguments: [(1, 0.0), (1, 0.5), (2, 0.0), (2, 0.5)])
    func watershedDiscs(connectivity: Int, compactness: Double) throws {
        let markers = try LabelImage(width: 64, height: 48, labels: Self.labels("discs-markers.png"))
        let result = try watershed(try Self.values("discs-relief.npy"), markers: markers, mask: try Self.mask("discs.png"),
                                   connectivity: Connectivity(rawValue: connectivity)!, compactness: compactness)
        #expect(result.labels == (try Self.labels("discs-watershed-c\(connectivity)-k\(compactness == 0 ? "0" : "0.5").png")))
    }

    @Test("watershed on integer levels (hierarchical queue) equals scikit-image on the same fixtures", arguments: [1, 2])
    func watershedLevels(connectivity: Int) throws {
        let c = Connectivity(rawValue: connectivity)!
        // Discs: the relief −distance as levels max d² − d² (the same order).
        let discs = try Self.mask("discs.png")
        let squared = discs.pixels.withUnsafeBufferPointer { m in
            squaredDistanceTransform(width: 64, height: 48) { m[$0] == 0 }
        }
        let top = squared.max()!
        let discMarkers = try LabelImage(width: 64, height: 48, labels: Self.labels("discs-markers.png"))
        let split = try watershed(levels: squared.map { Int32(top - $0) }, markers: discMarkers, mask: discs, connectivity: c)
        #expect(split.labels == (try Self.labels("discs-watershed-c\(connectivity)-k0.png")))
        // Quantised Sobel (multiples of 1/20) has plateaus, where equal priorities pop in push order
        // in both queues. Markers of equal level are the one difference (heap order against raster
        // order), so each marker gets its own level here; then the floods must agree pixel for pixel.
        let gridMarkers = try LabelImage(width: 64, height: 48, labels: Self.labels("camera-grid-markers.png"))
        let distinct = try Self.values("camera-sobel-quantised.npy").enumerated().map { i, v in
            Int32((v * 20).rounded()) * 4096 + gridMarkers.labels[i]
        }
        let flooded = try watershed(levels: distinct, markers: gridMarkers, connectivity: c)
        let heap = try watershed(distinct.map(Double.init), markers: gridMarkers, connectivity: c)
        #expect(flooded.labels == heap.labels)
        #expect(Set(flooded.labels).count == gridMarkers.count + (flooded.labels.contains(0) ? 1 : 0))
        #expect(throws: ImagingError.self) { try watershed(levels: [0, 1], markers: gridMarkers) }
        #expect(throws: ImagingError.self) {
            try watershed(levels: [0, 1 << 25] + [Int32](repeating: 0, count: 64 * 48 - 2), markers: gridMarkers)
        }
    }

    @Test("watershed: equal priorities on plateaus resolve exactly as scikit-image's heap", arguments: [1, 2])
    func watershedTies(connectivity: Int) throws {
        let markers = try LabelImage(width: 64, height: 48, labels: Self.labels("camera-grid-markers.png"))
        let result = try watershed(try Self.values("camera-sobel-quantised.npy"), markers: markers,
                                   connectivity: Connectivity(rawValue: connectivity)!)
        #expect(result.labels == (try Self.labels("camera-watershed-c\(connectivity).png")))
    }

    @Test("bad input: mismatched sizes, negative radius, seed above mask, NaN")
    func badInput() throws {
        let m = Image<UInt8>(width: 4, height: 4, channels: 1, repeating: 1)
        #expect(throws: ImagingError.self) { try Morphology.erode(m, radius: -1) }
        let markers = try LabelImage(width: 4, height: 4, labels: [Int32](repeating: 0, count: 16))
        #expect(throws: ImagingError.self) { try watershed([0, 1], markers: markers) }
        #expect(throws: ImagingError.self) { try watershed([Double](repeating: 0, count: 16), markers: markers, compactness: -1) }
        let low = Image<Float>(width: 2, height: 1, channels: 1, repeating: 0)
        let high = Image<Float>(width: 2, height: 1, channels: 1, repeating: 1)
        #expect(throws: ImagingError.self) { try Morphology.reconstructByDilation(seed: high, mask: low) }
        let undefined = try Image<Float>(width: 2, height: 1, channels: 1, pixels: [0, .nan])
        #expect(throws: ImagingError.self) { try Morphology.reconstructByDilation(seed: low, mask: undefined) }
        #expect(throws: ImagingError.self) { try Morphology.erode(undefined, radius: 1) }
        #expect(throws: ImagingError.self) { try Morphology.dilate(undefined, radius: 2) }
        // Watershed without markers labels nothing.
        #expect(try watershed([Double](repeating: 0, count: 16), markers: markers).count == 0)
    }
}

@Suite("Region properties against scikit-image 0.26 regionprops")
struct RegionPropertiesTests {
    static let fixture: [String: [[String: JSONValue]]] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("segmentation/regionprops.json")))
        return try! JSONDecoder().decode([String: [[String: JSONValue]]].self, from: data)
    }()

    enum JSONValue: Decodable {
        case number(Double), list([JSONValue])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .list(try c.decode([JSONValue].self)) }
        }
        var flat: [Double] {
            switch self {
            case .number(let d): [d]
            case .list(let l): l.flatMap(\.flat)
            }
        }
        var number: Double { flat[0] }
    }

    @Test("compartment statistics in one pass equal regionprops of cells, nuclei and cells minus nuclei")
    func compartments() throws {
        var generator = SplitMix(state: 7)
        let w = 23, h = 17
        let intensity = try Image<Float>(width: w, height: h, channels: 2,
                                         pixels: (0..<(w * h * 2)).map { _ in Float(Int.random(in: 0..<1000, using: &generator)) / 7 })
        // Cells: three vertical bands; nuclei: a block inside each of the first two.
        let cells = try LabelImage(width: w, height: h, labels: (0..<(w * h)).map { Int32(($0 % w) / 8 + 1) })
        let nuclei = try LabelImage(width: w, height: h, labels: (0..<(w * h)).map { i in
            let x = i % w, y = i / w
            return y >= 4 && y < 9 && x % 8 >= 2 && x % 8 < 5 && x < 16 ? Int32(x / 8 + 1) : 0
        })
        try expectCompartmentsMatch(cells: cells, nuclei: nuclei, intensity: intensity)
        #expect(try cells.intensityStatistics(intensity, inner: nuclei).inner!.area == [0, 15, 15])
        #expect(try cells.intensityStatistics(intensity).inner == nil)
    }

    @Test("compartment statistics with labels split between cores equal regionprops (six channels, 96 cells)")
    func compartmentsOnAllCores() throws {
        var generator = SplitMix(state: 8)
        let w = 96, h = 64, channels = 6
        let intensity = try Image<Float>(width: w, height: h, channels: channels, pixels: (0..<(w * h * channels)).map { _ in
            Float.random(in: -0.5...3, using: &generator)
        })
        // Cells: 8×8 blocks numbered column-major (so raster order interleaves the cores' label
        // ranges); nuclei: the middle 4×4 of every block except each fifth, with its cell's label.
        let cells = try LabelImage(width: w, height: h, labels: (0..<(w * h)).map { i in
            Int32((i % w) / 8 * 8 + (i / w) / 8 + 1)
        })
        let nuclei = try LabelImage(width: w, height: h, labels: (0..<(w * h)).map { i in
            let x = i % w, y = i / w, label = cells.labels[i]
            return (2..<6).contains(x % 8) && (2..<6).contains(y % 8) && label % 5 != 0 ? label : 0
        })
        try expectCompartmentsMatch(cells: cells, nuclei: nuclei, intensity: intensity)
        let alone = try cells.intensityStatistics(intensity).whole
        for p in try cells.regionProperties(intensity: intensity) {
            #expect(alone.statistics[Int(p.label)] == p.intensity, "label \(p.label) without an inner image")
        }
    }

    /// Whole cells, nuclei and cytoplasm from one pass equal regionprops of each, to the last bit.
    func expectCompartmentsMatch(cells: LabelImage, nuclei: LabelImage, intensity: Image<Float>) throws {
        let cytoplasm = try LabelImage(width: cells.width, height: cells.height,
                                       labels: zip(cells.labels, nuclei.labels).map { $1 != 0 ? 0 : $0 })
        let stats = try cells.intensityStatistics(intensity, inner: nuclei)
        for (result, labels) in [(stats.whole, cells), (stats.inner!, nuclei), (stats.outside!, cytoplasm)] {
            for p in try labels.regionProperties(intensity: intensity) {
                #expect(result.area[Int(p.label)] == p.area)
                #expect(result.statistics[Int(p.label)] == p.intensity, "label \(p.label)")
            }
        }
    }

    func check(_ labelsFile: String, intensity: Image<Float>, tolerance: Double) throws {
        let labels = try LabelImage(width: intensity.width, height: intensity.height,
                                    labels: try SegmentationTests.labels(labelsFile))
        let props = try labels.regionProperties(intensity: intensity)
        let expected = Self.fixture[labelsFile]!
        #expect(props.count == expected.count)
        func near(_ a: Double, _ b: Double, _ tol: Double = 1e-9) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }
        for (p, e) in zip(props, expected) {
            let name = "\(labelsFile) label \(p.label)"
            #expect(Double(p.label) == e["label"]!.number)
            #expect(Double(p.area) == e["area"]!.number, "\(name) area")
            #expect([p.minRow, p.minColumn, p.maxRow, p.maxColumn].map(Double.init) == e["bbox"]!.flat, "\(name) bbox")
            #expect(zip([p.centroidRow, p.centroidColumn], e["centroid"]!.flat).allSatisfy { near($0, $1) }, "\(name) centroid")
            #expect(near(p.perimeter, e["perimeter"]!.number), "\(name) perimeter \(p.perimeter) vs \(e["perimeter"]!.number)")
            let mu = e["moments_central"]!.flat  // 4×4, row-major: mu[r][c]
            #expect(near(p.mu20, mu[8]) && near(p.mu02, mu[2]) && near(p.mu11, mu[5]), "\(name) moments")
            #expect(near(p.majorAxisLength, e["axis_major_length"]!.number), "\(name) major")
            #expect(near(p.minorAxisLength, e["axis_minor_length"]!.number, 1e-7), "\(name) minor \(p.minorAxisLength)")
            #expect(near(p.eccentricity, e["eccentricity"]!.number, 1e-7), "\(name) eccentricity")
            #expect(near(p.orientation, e["orientation"]!.number), "\(name) orientation \(p.orientation) vs \(e["orientation"]!.number)")
            #expect(near(p.equivalentDiameter, e["equivalent_diameter_area"]!.number), "\(name) diameter")
            #expect(near(p.extent, e["extent"]!.number), "\(name) extent")
            let s = p.intensity[0]
            #expect(near(s.mean, e["intensity_mean"]!.number, tolerance), "\(name) mean")
            #expect(near(s.min, e["intensity_min"]!.number, tolerance) && near(s.max, e["intensity_max"]!.number, tolerance))
            #expect(near(s.std, e["intensity_std"]!.number, tolerance), "\(name) std")
            #expect(Double(p.convexArea) == e["area_convex"]!.number, "\(name) convex area \(p.convexArea) vs \(e["area_convex"]!.number)")
            #expect(near(p.solidity, e["solidity"]!.number), "\(name) solidity")
            #expect(near(p.feretDiameterMax, e["feret_diameter_max"]!.number),
                    "\(name) feret \(p.feretDiameterMax) vs \(e["feret_diameter_max"]!.number)")
            #expect(near(p.minCaliper, e["min_caliper"]!.number), "\(name) min caliper \(p.minCaliper) vs \(e["min_caliper"]!.number)")
        }
    }

    @Test("blobs: shape and intensity of every 8-connected region")
    func blobs() throws {
        let noise = try Fixtures.npy("segmentation/noise-64x64.npy").values.map(Float.init)
        try check("blobs-label8.png", intensity: try Image(width: 64, height: 64, channels: 1, pixels: noise), tolerance: 1e-9)
    }

    @Test("watershed-split discs with the camera crop as intensity (Float32 vs float64 intensities)")
    func discs() throws {
        let camera = try Fixtures.rgb8("segmentation/camera-64x48.png").map { Float($0) / 255 }
        try check("discs-watershed-c1-k0.png", intensity: camera, tolerance: 1e-6)
    }

    @Test("hull shapes: pixel, lines, L, ring, split label, star, disc, ellipse, random blobs")
    func shapes() throws {
        let noise = try Fixtures.npy("segmentation/noise-64x64.npy").values.map(Float.init)
        try check("shapes-labels.png", intensity: try Image(width: 64, height: 64, channels: 1, pixels: noise), tolerance: 1e-9)
    }

    @Test("hull shapes: random speckle (many small irregular regions)")
    func speckle() throws {
        let noise = try Fixtures.npy("segmentation/noise-64x64.npy").values.map(Float.init)
        try check("speckle-labels.png", intensity: try Image(width: 64, height: 64, channels: 1, pixels: noise), tolerance: 1e-9)
    }

    /// The properties of the one region drawn at `pixels` (row, column) on an empty canvas.
    static func region(_ pixels: [(Int, Int)], width: Int = 12, height: Int = 12) throws -> RegionProperties {
        var labels = [Int32](repeating: 0, count: width * height)
        for (r, c) in pixels { labels[r * width + c] = 1 }
        return try LabelImage(width: width, height: height, labels: labels).regionProperties()[0]
    }

    @Test("literal: a 3×3 square has area 9, perimeter 8, circularity capped at 1, extent 1")
    func square() throws {
        var labels = [Int32](repeating: 0, count: 25)
        for y in 1...3 { for x in 1...3 { labels[y * 5 + x] = 1 } }
        let p = try LabelImage(width: 5, height: 5, labels: labels).regionProperties()[0]
        #expect(p.area == 9 && p.perimeter == 8 && p.extent == 1 && p.circularity == 1)
        #expect(p.centroidRow == 2 && p.centroidColumn == 2 && p.eccentricity == 0)
        // Hull: the square itself; Feret diameter between the edge midpoints (−½, 0) and (2½, 2).
        #expect(p.convexArea == 9 && p.solidity == 1)
        #expect(p.feretDiameterMax == 13.0.squareRoot() && p.minCaliper == 3)
    }

    @Test("literal: hull of a pixel, straight and diagonal lines, an L")
    func hullLiterals() throws {
        func near(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-12 }
        // One pixel: contour points are its four edge midpoints, a diamond of diagonal 1.
        let pixel = try Self.region([(4, 4)])
        #expect(pixel.convexArea == 1 && pixel.feretDiameterMax == 1 && near(pixel.minCaliper, 0.5.squareRoot()))
        let row = try Self.region((2...6).map { (3, $0) })
        #expect(row.convexArea == 5 && row.feretDiameterMax == 5 && row.minCaliper == 1)
        let column = try Self.region((2...6).map { ($0, 3) })
        #expect(column.convexArea == 5 && column.feretDiameterMax == 5 && column.minCaliper == 1)
        // A diagonal of 4: no pixel is added; from (−½, 0) to (3½, 3); the contour lies between two
        // parallel lines 1/√2 apart.
        let diagonal = try Self.region((0..<4).map { ($0 + 2, $0 + 2) })
        #expect(diagonal.convexArea == 4 && diagonal.feretDiameterMax == 5 && near(diagonal.minCaliper, 0.5.squareRoot()))
        // An L of 3 + 2 pixels: its hull takes the missing triangle's diagonal pixel.
        let l = try Self.region([(1, 1), (2, 1), (3, 1), (3, 2), (3, 3)])
        #expect(l.convexArea == 6 && near(l.solidity, 5.0 / 6) && l.feretDiameterMax == 13.0.squareRoot())
        #expect(near(l.minCaliper, 3 / 2.0.squareRoot()))
    }

    /// SplitMix64: a fixed-seed generator for the random shapes below.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("properties: hull bounds, and invariance under translation, transposition and rotation")
    func hullProperties() throws {
        var rng = SplitMix(state: 2026)
        for trial in 0..<300 {
            let h = Int.random(in: 1...9, using: &rng), w = Int.random(in: 1...9, using: &rng)
            let density = Double.random(in: 0.05...0.9, using: &rng)
            var pixels: [(Int, Int)] = []
            for r in 0..<h { for c in 0..<w where Double.random(in: 0..<1, using: &rng) < density { pixels.append((r, c)) } }
            if pixels.isEmpty { pixels = [(h / 2, w / 2)] }
            let p = try Self.region(pixels.map { ($0.0 + 1, $0.1 + 2) })
            let name = "trial \(trial): \(pixels)"
            let bh = Double(p.maxRow - p.minRow), bw = Double(p.maxColumn - p.minColumn)
            #expect(p.convexArea >= p.area && p.convexArea <= (p.maxRow - p.minRow) * (p.maxColumn - p.minColumn), "\(name)")
            #expect(p.solidity > 0 && p.solidity <= 1, "\(name)")
            #expect(p.minCaliper > 0 && p.minCaliper <= p.feretDiameterMax, "\(name)")
            // The contour spans the bounding box (edge midpoints) in rows and in columns.
            #expect(p.feretDiameterMax >= max(bh, bw) && p.feretDiameterMax <= (bh * bh + bw * bw).squareRoot(), "\(name)")
            #expect(p.minCaliper <= min(bh, bw) + 1e-12, "\(name)")
            // Same numbers elsewhere on the canvas, transposed, and turned by 90°.
            let moved = try Self.region(pixels.map { ($0.0 + 3, $0.1) })
            let transposed = try Self.region(pixels.map { ($0.1, $0.0) })
            let turned = try Self.region(pixels.map { ($0.1, 11 - $0.0) })
            for q in [moved, transposed, turned] {
                #expect(q.convexArea == p.convexArea && q.feretDiameterMax == p.feretDiameterMax, "\(name)")
                #expect(abs(q.minCaliper - p.minCaliper) <= 1e-12, "\(name)")
            }
        }
    }
}
