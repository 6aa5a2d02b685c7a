import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("Histograms, equalisation and thresholds against scikit-image")
struct HistogramTests {
    let camera = try! Fixtures.rgb8("imaging/camera-gray.png")
    let expected = try! Fixtures.expected("imaging")

    func reference(_ key: String) -> (counts: [Int], centers: [Double]) {
        let h = expected[key] as! [String: Any]
        return ((h["counts"] as! [NSNumber]).map(\.intValue), (h["centers"] as! [NSNumber]).map(\.doubleValue))
    }

    @Test("integer histogram: one bin per value from min to max")
    func integerHistogram() throws {
        let h = try Histogram(camera)
        let ref = reference("camera_histogram")
        #expect(h.counts == ref.counts)
        #expect(h.binCenters == ref.centers)
    }

    @Test("float histogram: NumPy's bin assignment")
    func floatHistogram() throws {
        let h = try Histogram(rgbToGray(try Fixtures.rgb8("imaging/ihc-rgb.png")), bins: 32)
        let ref = reference("ihc_gray_histogram_32")
        #expect(h.counts == ref.counts)
        #expect(firstMismatch(h.binCenters, ref.centers, absolute: 1e-6) == nil)
    }

    @Test("literal histogram and a masked histogram")
    func literal() throws {
        let image = try Image<UInt8>(width: 4, height: 1, channels: 1, pixels: [3, 5, 5, 7])
        let h = try Histogram(image)
        #expect(h.counts == [1, 0, 2, 0, 1] && h.binCenters == [3, 4, 5, 6, 7])
        let mask = try Image<UInt8>(width: 4, height: 1, channels: 1, pixels: [0, 1, 1, 0])
        #expect(try Histogram(image, mask: mask).counts == [2])
        let empty = Image<UInt8>(width: 4, height: 1, channels: 1, repeating: 0)
        #expect(throws: ImagingError.self) { try Histogram(image, mask: empty) }
    }

    @Test("equalize_hist on 8-bit and float images")
    func equalize() throws {
        let (_, ref8) = try Fixtures.npy("imaging/camera-equalized.npy")
        #expect(firstMismatch(try equalizeHistogram(camera).doubles, ref8, absolute: 1e-6) == nil)
        let gray = rgbToGray(try Fixtures.rgb8("imaging/ihc-rgb.png"))
        let (_, refF) = try Fixtures.npy("imaging/ihc-gray-equalized.npy")
        // Karyon stores gray as Float32 and scikit-image as float64, so a sample lying on a bin
        // edge can fall into the neighbouring bin: one sample moves the CDF by 1/3072 ≈ 3.3e-4.
        let mismatch = firstMismatch(try equalizeHistogram(gray).doubles, refF, absolute: 7e-4)
        #expect(mismatch == nil, "\(mismatch ?? "")")
    }

    @Test("Otsu, triangle and IsoData equal scikit-image", arguments: ["camera", "ihc_gray", "gray16"])
    func thresholds(name: String) throws {
        let ref = expected["\(name)_thresholds"] as! [String: Double]
        let hist: Histogram = switch name {
        case "camera": try Histogram(camera)
        case "ihc_gray": try Histogram(rgbToGray(try Fixtures.rgb8("imaging/ihc-rgb.png")))
        default: try {
            guard case .uint16(let g) = try Fixtures.image("imaging/random-gray16.png") else { throw FixtureError("16-bit") }
            return try Histogram(g)
        }()
        }
        #expect(abs(Threshold.otsu(hist) - ref["otsu"]!) < 1e-6)
        #expect(abs(Threshold.triangle(hist) - ref["triangle"]!) < 1e-6)
        #expect(abs(Threshold.isodata(hist) - ref["isodata"]!) < 1e-6)
    }

    @Test("literal: Otsu splits two well-separated populations between them")
    func otsuLiteral() throws {
        let image = try Image<UInt8>(width: 8, height: 1, channels: 1, pixels: [10, 11, 12, 10, 200, 201, 199, 200])
        let t = Threshold.otsu(try Histogram(image))
        #expect(t >= 12 && t < 199)
    }
}

import Foundation
