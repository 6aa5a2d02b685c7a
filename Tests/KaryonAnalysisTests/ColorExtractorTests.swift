import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("color extractor against numpy / scikit-image / scipy")
struct ColorExtractorTests {
    struct Channel: Decodable {
        var mean: Double
        var std: Double
        var skewness: Double?
        var hist: [Double]
    }

    struct Case: Decodable {
        var image: String
        var mask: String?
        var spaces: [String]
        var bins: Int
        var skewness: String
        var stain: String
        var stain_od_max: Double
        var channels: [String: Channel]
    }

    struct Cases: Decodable { var cases: [Case] }

    static let cases: [Case] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("color/color-cases.json")))
        return try! JSONDecoder().decode(Cases.self, from: data).cases
    }()

    func run(_ image: AnyImage, mask: Image<UInt8>? = nil, _ params: [String: String]) throws -> FeatureVector {
        try ExtractorRegistry.standard.configure("color", text: params)
            .run(ExtractionInput(image: image, mask: mask), imageSHA256: "0").features
    }

    static let stainChannels: Set<String> = ["hematoxylin", "dab", "eosin", "residual"]

    /// RGB and HSV are computed in float64 as the reference does: moments to 1e-12, histograms
    /// exactly. Stain amounts come from Karyon's Float32 deconvolution (|Δ| ≤ 2e-6 against
    /// float64, ImagingTests): moments to 1e-5, and a value on a bin edge may move one bin, so
    /// histograms agree to 4 pixels' worth in L1.
    @Test("moments and histograms per channel", arguments: 0..<ColorExtractorTests.cases.count)
    func parity(index: Int) throws {
        let c = Self.cases[index]
        let image = try Fixtures.image(c.image)
        var mask: Image<UInt8>?
        if let m = c.mask { mask = try Fixtures.rgb8(m) }
        let f = try run(image, mask: mask, [
            "spaces": c.spaces.joined(separator: ","), "bins": String(c.bins), "skewness": c.skewness,
            "stain": c.stain, "stain_od_max": String(c.stain_od_max),
        ])
        #expect(f.names.count == c.channels.count * (3 + c.bins))
        let counted = Double(mask.map { $0.pixels.filter { $0 != 0 }.count } ?? image.width * image.height)
        for (name, expected) in c.channels {
            let stain = Self.stainChannels.contains(name)
            let tolerance = stain ? 1e-5 : 1e-12
            func near(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= tolerance * max(1, abs(b)) }
            let mean = f["\(name)_mean"]!.doubleValue!, std = f["\(name)_std"]!.doubleValue!
            let skew = f["\(name)_skewness"]!.doubleValue!
            #expect(near(mean, expected.mean), "\(c.image) \(name) mean \(mean) vs \(expected.mean)")
            #expect(near(std, expected.std), "\(c.image) \(name) std \(std) vs \(expected.std)")
            // SciPy gives NaN for a constant channel; Karyon gives 0.
            #expect(near(skew, expected.skewness ?? 0), "\(c.image) \(name) skewness \(skew) vs \(String(describing: expected.skewness))")
            let hist = (0..<c.bins).map { f["\(name)_hist_\($0)"]!.doubleValue! }
            if stain {
                let l1 = zip(hist, expected.hist).map { abs($0 - $1) }.reduce(0, +)
                #expect(l1 <= 4 / counted + 1e-12, "\(c.image) \(name) histogram L1 \(l1)")
            } else {
                #expect(hist == expected.hist, "\(c.image) \(name) histogram")
            }
            #expect(abs(hist.reduce(0, +) - 1) < 1e-12)
        }
    }

    @Test("literal: pure red, green, blue and grey pixels")
    func literal() throws {
        // red, green, blue, grey(128): hue 0, 1/3, 2/3, 0; saturation 1, 1, 1, 0.
        let image = try Image<UInt8>(width: 4, height: 1, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128])
        let f = try run(.uint8(image), ["spaces": "rgb,hsv", "bins": "2"])
        let redMean: Double = (255.0 + 128) / 255 / 4
        #expect(f["red_mean"]?.doubleValue == redMean)
        #expect(f["red_hist_0"]?.doubleValue == 0.5)  // values 0, 0 below 128; 255, 128 in the upper bin
        let hueMean: Double = (1.0 / 3 + 2.0 / 3) / 4
        #expect(f["hue_mean"]?.doubleValue == hueMean)
        #expect(f["saturation_mean"]?.doubleValue == 0.75)
        #expect(f["value_hist_1"]?.doubleValue == 1)
        // A constant channel has no skewness: 0, not NaN.
        let flat = Image<UInt8>(width: 3, height: 3, channels: 3, repeating: 77)
        let g = try run(.uint8(flat), ["spaces": "rgb"])
        #expect(g["green_skewness"]?.doubleValue == 0)
        #expect(g["green_std"]?.doubleValue == 0)
    }

    @Test("bad input: hsv on gray, empty mask, float outside 0…1, 1×1 image works, bad parameters")
    func badInput() throws {
        let gray = Image<UInt8>(width: 4, height: 4, channels: 1, repeating: 3)
        #expect(throws: ExtractorError.self) { try run(.uint8(gray), [:]) }
        let g = try run(.uint8(gray), ["spaces": "rgb"])
        #expect(g["gray_hist_0"]?.doubleValue == 1)
        let rgb = Image<UInt8>(width: 4, height: 4, channels: 3, repeating: 9)
        #expect(throws: ExtractorError.self) { try run(.uint8(rgb), mask: Image(width: 4, height: 4, channels: 1, repeating: 0), [:]) }
        let hot = try Image<Float>(width: 1, height: 1, channels: 3, pixels: [0.5, 1.5, 0])
        #expect(throws: ExtractorError.self) { try run(.float32(hot), [:]) }
        let one = try Image<UInt8>(width: 1, height: 1, channels: 3, pixels: [10, 20, 30])
        #expect(try run(.uint8(one), ["spaces": "rgb,hsv,stain"])["blue_mean"]?.doubleValue == 30.0 / 255)
        #expect(throws: ExtractorError.self) { try run(.uint8(rgb), ["bins": "0"]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(rgb), ["bins": "sixteen"]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(rgb), ["stain_od_max": "high"]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(rgb), ["spaces": "lab"]) }
    }
}
