import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("glcm extractor against scikit-image 0.26")
struct GLCMExtractorTests {
    struct Case: Decodable {
        var image: String
        var mask: String?
        var levels: Int
        var distances: [Int]
        var angles: [Int]
        var symmetric: Bool
        var props: [String: [[Double]]]
    }

    struct Cases: Decodable { var cases: [Case] }

    static let cases: [Case] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("texture/glcm-cases.json")))
        return try! JSONDecoder().decode(Cases.self, from: data).cases
    }()

    func run(_ image: AnyImage, mask: Image<UInt8>? = nil, _ params: [String: String]) throws -> FeatureVector {
        try ExtractorRegistry.standard.configure("glcm", text: params)
            .run(ExtractionInput(image: image, mask: mask), imageSHA256: "0").features
    }

    @Test("every property equals graycoprops to |Δ| ≤ 1e-9 (relative 1e-12 for large values)",
          arguments: 0..<GLCMExtractorTests.cases.count)
    func parity(index: Int) throws {
        let c = Self.cases[index]
        let image = try Fixtures.image("texture/" + c.image)
        var mask: Image<UInt8>?
        if let m = c.mask { mask = try Fixtures.rgb8("texture/" + m).map { $0 != 0 ? 1 : 0 } }
        let f = try run(image, mask: mask, [
            "levels": String(c.levels), "distances": c.distances.map(String.init).joined(separator: ","),
            "angles": c.angles.map(String.init).joined(separator: ","), "symmetric": String(c.symmetric),
        ])
        for (prop, table) in c.props {
            for (di, d) in c.distances.enumerated() {
                for (ai, a) in c.angles.enumerated() {
                    let expected = table[di][ai]
                    let actual = f["\(prop)_d\(d)_a\(a)"]!.doubleValue!
                    let ok = abs(actual - expected) <= 1e-9 || abs(actual - expected) <= 1e-12 * abs(expected)
                    #expect(ok, "\(c.image) L\(c.levels) sym \(c.symmetric) \(prop) d\(d) a\(a): \(actual) vs \(expected)")
                }
                let mean = table[di].reduce(0, +) / Double(table[di].count)
                #expect(abs(f["\(prop)_d\(d)_mean"]!.doubleValue! - mean) <= 1e-9 + 1e-12 * abs(mean))
            }
        }
    }

    @Test("the scikit-image docstring example (reference-facts.md), literally")
    func docstring() throws {
        let image = try Image<UInt8>(width: 4, height: 4, channels: 1, pixels: [0, 0, 1, 1, 0, 0, 1, 1, 0, 2, 2, 2, 2, 2, 3, 3])
        let f = try run(.uint8(image), ["levels": "4", "quantize": "false"])
        let expected: [String: [Double]] = [
            "contrast": [0.583333, 1.777778, 1.000000, 0.444444],
            "dissimilarity": [0.416667, 1.111111, 0.666667, 0.444444],
            "homogeneity": [0.808333, 0.511111, 0.700000, 0.777778],
            "asm": [0.145833, 0.117284, 0.138889, 0.148148],
            "energy": [0.381881, 0.342467, 0.372678, 0.384900],
            "correlation": [0.719533, 0.162791, 0.485714, 0.735294],
            "mean": [1.291667, 1.222222, 1.166667, 1.222222],
            "variance": [1.039931, 1.061728, 0.972222, 0.839506],
            "std": [1.019770, 1.030402, 0.986013, 0.916246],
            "entropy": [2.094729, 2.216102, 2.094729, 2.043192],
        ]
        for (prop, values) in expected {
            for (a, v) in zip([0, 45, 90, 135], values) {
                let actual = f["\(prop)_d1_a\(a)"]!.doubleValue!
                #expect(abs(actual - v) < 5e-7, "\(prop) \(a)°: \(actual) vs \(v)")
            }
        }
    }

    @Test("offsets follow scikit-image's rounding: 45° at d=2 is (1, 1); 90° is one row down")
    func offsets() {
        #expect(PixelOffset(distance: 2, angleDegrees: 45) == PixelOffset(rows: 1, columns: 1))
        #expect(PixelOffset(distance: 1, angleDegrees: 90) == PixelOffset(rows: 1, columns: 0))
        #expect(PixelOffset(distance: 1, angleDegrees: 135) == PixelOffset(rows: 1, columns: -1))
        #expect(PixelOffset(distance: 3, angleDegrees: 0) == PixelOffset(rows: 0, columns: 3))
    }

    @Test("levels above 1024 use the sparse path and agree with the dense one")
    func sparseMatchesDense() throws {
        var rng = SeededGenerator(seed: 99)
        let pixels = (0..<(30 * 20)).map { _ in UInt16(truncatingIfNeeded: rng.next() % 700) }
        let offsets = [PixelOffset(distance: 1, angleDegrees: 0), PixelOffset(distance: 2, angleDegrees: 135)]
        for symmetric in [true, false] {
            let dense = try GLCM.properties(values: .uint16(pixels), width: 30, height: 20, levels: 700, offsets: offsets, symmetric: symmetric)
            let sparse = try GLCM.properties(values: .uint16(pixels), width: 30, height: 20, levels: 4000, offsets: offsets, symmetric: symmetric)
            for k in offsets.indices {
                for p in GLCMProperty.allCases {
                    #expect(abs(dense[k][p]! - sparse[k][p]!) <= 1e-12 * max(1, abs(dense[k][p]!)), "\(p)")
                }
            }
        }
    }

    @Test("fewer offsets than cores on a megapixel: rows counted in bands on all cores give the sums of one pass")
    func bandsMatchOnePass() throws {
        var rng = SeededGenerator(seed: 7)
        let width = 1024, height = 1031
        let pixels = (0..<(width * height)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 256) }
        let mask = (0..<(width * height)).map { _ in UInt8(rng.next() % 10 < 7 ? 1 : 0) }
        // As many offsets as cores: one pass per offset, no bands.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        for offset in [PixelOffset(distance: 1, angleDegrees: 90), PixelOffset(distance: 3, angleDegrees: 45)] {
            for (symmetric, m) in [(true, nil), (false, nil), (true, mask)] as [(Bool, [UInt8]?)] {
                let banded = try GLCM.properties(values: .uint8(pixels), width: width, height: height, levels: 256,
                                                 offsets: [offset], symmetric: symmetric, mask: m)[0]
                let onePass = try GLCM.properties(values: .uint8(pixels), width: width, height: height, levels: 256,
                                                  offsets: Array(repeating: offset, count: max(2, cores)), symmetric: symmetric, mask: m)[0]
                #expect(banded == onePass, "\(offset) symmetric \(symmetric) mask \(m != nil)")
            }
        }
    }

    @Test("16-bit input is quantised by v·levels/65536; RGB goes through rgb2gray and img_as_ubyte")
    func inputConversion() throws {
        let g16 = try Image<UInt16>(width: 3, height: 1, channels: 1, pixels: [0, 32768, 65535])
        let f16 = try run(.uint16(g16), ["levels": "4", "angles": "0", "props": "mean"])
        // Grey levels 0, 2, 3; symmetric pairs (0,2),(2,0),(2,3),(3,2): mean row index = 7/4.
        #expect(f16["mean_d1_a0"] == .number(1.75))
        let rgb = try Image<UInt8>(width: 2, height: 1, channels: 3, pixels: [255, 0, 0, 0, 255, 0])
        let fr = try run(.uint8(rgb), ["angles": "0", "props": "contrast", "symmetric": "false"])
        // rint(255·0.2125) = 54, rint(255·0.7154) = 182 → contrast (182−54)² = 16384.
        #expect(fr["contrast_d1_a0"] == .number(16384))
    }

    @Test("bad input: 1×1 image, empty mask, values above levels without quantisation, bad parameters")
    func badInput() throws {
        let one = try Image<UInt8>(width: 1, height: 1, channels: 1, pixels: [5])
        #expect(throws: ExtractorError.self) { try run(.uint8(one), [:]) }
        let img = try Image<UInt8>(width: 4, height: 4, channels: 1, pixels: (0..<16).map { UInt8($0 * 10) })
        let empty = Image<UInt8>(width: 4, height: 4, channels: 1, repeating: 0)
        #expect(throws: ExtractorError.self) { try run(.uint8(img), mask: empty, [:]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(img), ["levels": "8", "quantize": "false"]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(img), ["distances": "9"]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(img), ["levels": "1"]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(img), ["distances": "one"]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(img), ["props": "contrast,sharpness"]) }
        #expect(throws: ExtractorError.self) { try run(.uint8(img), ["angles": "0,0"]) }
    }
}
