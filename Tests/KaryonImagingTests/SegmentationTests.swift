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

    @Test("regional maxima (plateaus strictly above their neighbours)")
    func maxima() throws {
        let camera = try Fixtures.rgb8("segmentation/camera-64x48.png")
        let v = camera.pixels.map(Double.init)
        #expect(try regionalMaxima(v, width: 64, height: 48, connectivity: .eight) == Self.mask("camera-maxima8.png"))
        #expect(try regionalMaxima(v, width: 64, height: 48, connectivity: .four) == Self.mask("camera-maxima4.png"))
    }

    @Test("watershed: discs split on the distance transform, every connectivity and compactness",
          arguments: [(1, 0.0), (1, 0.5), (2, 0.0), (2, 0.5)])
    func watershedDiscs(connectivity: Int, compactness: Double) throws {
        let markers = try LabelImage(width: 64, height: 48, labels: Self.labels("discs-markers.png"))
        let result = try watershed(try Self.values("discs-relief.npy"), markers: markers, mask: try Self.mask("discs.png"),
                                   connectivity: Connectivity(rawValue: connectivity)!, compactness: compactness)
        #expect(result.labels == (try Self.labels("discs-watershed-c\(connectivity)-k\(compactness == 0 ? "0" : "0.5").png")))
    }

    @Test("watershed: equal priorities on plateaus resolve exactly as scikit-image's heap", arguments: [1, 2])
    func watershedTies(connectivity: Int) throws {
        let markers = try LabelImage(width: 64, height: 48, labels: Self.labels("camera-grid-markers.png"))
        let result = try watershed(try Self.values("camera-sobel-quantised.npy"), markers: markers,
                                   connectivity: Connectivity(rawValue: connectivity)!)
        #expect(result.labels == (try Self.labels("camera-watershed-c\(connectivity).png")))
    }

    @Test("bad input: mismatched sizes, negative radius, seed above mask")
    func badInput() throws {
        let m = Image<UInt8>(width: 4, height: 4, channels: 1, repeating: 1)
        #expect(throws: ImagingError.self) { try Morphology.erode(m, radius: -1) }
        let markers = try LabelImage(width: 4, height: 4, labels: [Int32](repeating: 0, count: 16))
        #expect(throws: ImagingError.self) { try watershed([0, 1], markers: markers) }
        #expect(throws: ImagingError.self) { try watershed([Double](repeating: 0, count: 16), markers: markers, compactness: -1) }
        let low = Image<Float>(width: 2, height: 1, channels: 1, repeating: 0)
        let high = Image<Float>(width: 2, height: 1, channels: 1, repeating: 1)
        #expect(throws: ImagingError.self) { try Morphology.reconstructByDilation(seed: high, mask: low) }
        // Watershed without markers labels nothing.
        #expect(try watershed([Double](repeating: 0, count: 16), markers: markers).count == 0)
    }
}
