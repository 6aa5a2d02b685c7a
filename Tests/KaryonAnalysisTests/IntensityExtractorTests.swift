import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("intensity extractor")
struct IntensityExtractorTests {
    let expected = try! Fixtures.expected("imaging")
    let intensity = try! ExtractorRegistry.standard.configure("intensity")

    func run(_ image: AnyImage, mask: Image<UInt8>? = nil, _ params: [String: String] = [:]) throws -> FeatureVector {
        try ExtractorRegistry.standard.configure("intensity", text: params)
            .run(ExtractionInput(image: image, mask: mask), imageSHA256: "0").features
    }

    func check(_ f: FeatureVector, _ key: String, channels: [String]) {
        let ref = expected[key] as! [String: [Double]]
        for stat in ["mean", "std", "min", "max"] {
            let actual = channels.map { f["\(stat)_\($0)"]!.doubleValue! }
            let mismatch = firstMismatch(actual, ref[stat]!, absolute: 1e-9, relative: 1e-12)
            #expect(mismatch == nil, "\(key) \(stat): \(mismatch ?? "")")
        }
    }

    @Test("RGB statistics and luminance equal NumPy / scikit-image")
    func rgb() throws {
        let f = try run(Fixtures.image("imaging/ihc-rgb.png"))
        check(f, "intensity_ihc", channels: ["r", "g", "b"])
        // Luminance from exact channel means vs scikit-image's float64 mean of rgb2gray.
        #expect(abs(f["brightness"]!.doubleValue! - (expected["intensity_ihc_luminance"] as! Double)) < 1e-9)
        #expect(f.names == ["mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b", "min_r", "min_g", "min_b",
                            "max_r", "max_g", "max_b", "brightness"])
    }

    @Test("masked statistics use only pixels inside the mask")
    func masked() throws {
        let maskImage = try Fixtures.rgb8("imaging/mask-disk.png").map { $0 != 0 ? UInt8(1) : 0 }
        let f = try run(Fixtures.image("imaging/ihc-rgb.png"), mask: maskImage)
        check(f, "intensity_ihc_masked", channels: ["r", "g", "b"])
        #expect(abs(f["brightness"]!.doubleValue! - (expected["intensity_ihc_masked_luminance"] as! Double)) < 1e-9)
    }

    @Test("16-bit gray: columns named gray, values in 0–65535")
    func gray16() throws {
        let f = try run(Fixtures.image("imaging/random-gray16.png"))
        check(f, "intensity_gray16", channels: ["gray"])
        #expect(f["brightness"] == f["mean_gray"])
    }

    @Test("literal: two pixels, channel-mean brightness, alpha ignored")
    func literal() throws {
        let rgba = try Image<UInt8>(width: 2, height: 1, channels: 4, pixels: [10, 20, 30, 0, 30, 40, 50, 255])
        let f = try run(.uint8(rgba), ["brightness": "channel-mean"])
        #expect(f["mean_r"] == .number(20) && f["std_r"] == .number(10) && f["min_b"] == .number(30) && f["max_g"] == .number(40))
        #expect(f["brightness"] == .number(30))
        #expect(f["mean_a"] == nil)
    }

    @Test("exclude_above leaves out bright glass, alone and with a mask")
    func excludeBright() throws {
        let image = try Image<UInt8>(width: 3, height: 1, channels: 3, pixels: [255, 255, 255, 10, 20, 30, 40, 50, 60])
        let f = try run(.uint8(image), ["exclude_above": "0.9"])
        #expect(f["mean_r"] == .number(25) && f["max_b"] == .number(60))
        let mask = try Image<UInt8>(width: 3, height: 1, channels: 1, pixels: [1, 1, 0])
        #expect(try run(.uint8(image), mask: mask, ["exclude_above": "0.9"])["mean_g"] == .number(20))
        #expect(try run(.uint8(image))["max_r"] == .number(255))
        #expect(throws: ExtractorError.self) { try run(.uint8(image), ["exclude_above": "0"]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(image), ["exclude_above": "1.5"]) }
    }

    @Test("property: statistics do not depend on pixel order (bit-exact)")
    func orderInvariant() throws {
        var rng = SeededGenerator(seed: 7)
        var pixels = (0..<(40 * 30 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let a = try run(.uint8(try Image(width: 40, height: 30, channels: 3, pixels: pixels)))
        // Reverse pixel order (keeping each pixel's channels together).
        pixels = stride(from: pixels.count - 3, through: 0, by: -3).flatMap { pixels[$0..<($0 + 3)] }
        let b = try run(.uint8(try Image(width: 30, height: 40, channels: 3, pixels: pixels)))
        #expect(a == b)
    }

    @Test("an empty mask is an input error, not NaN")
    func emptyMask() throws {
        let mask = Image<UInt8>(width: 64, height: 48, channels: 1, repeating: 0)
        #expect(throws: ExtractorError.self) { try run(Fixtures.image("imaging/ihc-rgb.png"), mask: mask) }
    }
}
