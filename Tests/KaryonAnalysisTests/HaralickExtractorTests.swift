import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("haralick extractor against mahotas 1.4 haralick_features")
struct HaralickExtractorTests {
    struct Case: Decodable {
        var image: String
        var mask: String?
        var levels: Int
        var distances: [Int]
        var angles: [Int]
        var symmetric: Bool
        var features: [String: [[Double]]]
    }

    struct Cases: Decodable {
        var cases: [Case]
        var mahotas_haralick_camera_mean_ptp: [Double]
    }

    static let fixture: Cases = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("texture/haralick-cases.json")))
        return try! JSONDecoder().decode(Cases.self, from: data)
    }()

    func run(_ image: AnyImage, mask: Image<UInt8>? = nil, _ params: [String: String]) throws -> FeatureVector {
        try ExtractorRegistry.standard.configure("haralick", text: params)
            .run(ExtractionInput(image: image, mask: mask), imageSHA256: "0").features
    }

    static func close(_ a: Double, _ b: Double) -> Bool {
        abs(a - b) <= 1e-9 || abs(a - b) <= 1e-12 * abs(b)
    }

    @Test("all 13 features equal mahotas to |Δ| ≤ 1e-9 (relative 1e-12) on scikit-image matrices",
          arguments: 0..<HaralickExtractorTests.fixture.cases.count)
    func parity(index: Int) throws {
        let c = Self.fixture.cases[index]
        let image = try Fixtures.image("texture/" + c.image)
        var mask: Image<UInt8>?
        if let m = c.mask { mask = try Fixtures.rgb8("texture/" + m).map { $0 != 0 ? 1 : 0 } }
        let f = try run(image, mask: mask, [
            "levels": String(c.levels), "distances": c.distances.map(String.init).joined(separator: ","),
            "angles": c.angles.map(String.init).joined(separator: ","), "symmetric": String(c.symmetric),
        ])
        #expect(Set(c.features.keys) == Set(HaralickFeature.allCases.map(\.rawValue)))
        for (feature, table) in c.features {
            for (di, d) in c.distances.enumerated() {
                for (ai, a) in c.angles.enumerated() {
                    let actual = f["\(feature)_d\(d)_a\(a)"]!.doubleValue!
                    #expect(Self.close(actual, table[di][ai]),
                            "\(c.image) L\(c.levels) sym \(c.symmetric) \(feature) d\(d) a\(a): \(actual) vs \(table[di][ai])")
                }
                let range = table[di].max()! - table[di].min()!
                #expect(abs(f["\(feature)_d\(d)_range"]!.doubleValue! - range) <= 2e-9 + 1e-12 * abs(range))
            }
        }
    }

    @Test("mean and range equal mahotas.features.haralick(image, return_mean_ptp=True) on the image itself")
    func mahotasEntryPoint() throws {
        let f = try run(try Fixtures.image("texture/camera-64x48.png"), [:])
        let expected = Self.fixture.mahotas_haralick_camera_mean_ptp
        for (k, feature) in HaralickFeature.allCases.enumerated() {
            let mean = f["\(feature.rawValue)_d1_mean"]!.doubleValue!, range = f["\(feature.rawValue)_d1_range"]!.doubleValue!
            #expect(Self.close(mean, expected[k]), "\(feature) mean \(mean) vs \(expected[k])")
            #expect(abs(range - expected[13 + k]) <= 2e-9 + 1e-12 * abs(expected[13 + k]), "\(feature) range \(range) vs \(expected[13 + k])")
        }
    }

    @Test("a constant image: no contrast, correlation 1, zero entropies; a 2-level checkerboard, literally")
    func literal() throws {
        let flat = Image<UInt8>(width: 5, height: 4, channels: 1, repeating: 9)
        let f = try run(.uint8(flat), ["angles": "0"])
        #expect(f["asm_d1_a0"]?.doubleValue == 1)
        #expect(f["contrast_d1_a0"]?.doubleValue == 0)
        #expect(f["correlation_d1_a0"]?.doubleValue == 1)
        #expect(f["entropy_d1_a0"]?.doubleValue == 0)
        #expect(f["sum_average_d1_a0"]?.doubleValue == 18)
        #expect(f["imc1_d1_a0"]?.doubleValue == 0)
        // Checkerboard 0/1 (levels 2, no quantisation), horizontal pairs: every pair is (0,1) or
        // (1,0), so p = [[0, ½], [½, 0]]: contrast 1, correlation −1, entropy 1 bit, sum
        // entropy 0 (i + j is always 1), HX = HY = 1, imc1 = (1 − 2)/1 = −1, imc2 = √(1 − e⁻²).
        let board = try Image<UInt8>(width: 4, height: 4, channels: 1, pixels: (0..<16).map { UInt8(($0 / 4 + $0 % 4) % 2) })
        let g = try run(.uint8(board), ["angles": "0", "levels": "2", "quantize": "false"])
        #expect(g["contrast_d1_a0"]?.doubleValue == 1)
        #expect(g["correlation_d1_a0"]?.doubleValue == -1)
        #expect(g["entropy_d1_a0"]?.doubleValue == 1)
        #expect(g["sum_entropy_d1_a0"]?.doubleValue == 0)
        #expect(g["sum_average_d1_a0"]?.doubleValue == 1)
        #expect(g["imc1_d1_a0"]?.doubleValue == -1)
        #expect(abs(g["imc2_d1_a0"]!.doubleValue! - (1 - exp(-2.0)).squareRoot()) < 1e-15)
    }

    @Test("bad input: 1×1 image, levels below the maximum without quantise, empty mask, strings for numbers")
    func badInput() throws {
        let one = try Image<UInt8>(width: 1, height: 1, channels: 1, pixels: [3])
        #expect(throws: ExtractorError.self) { try run(.uint8(one), [:]) }
        let image = try Fixtures.image("texture/camera-64x48.png")
        #expect(throws: ExtractorError.self) { try run(image, ["levels": "8", "quantize": "false"]) }
        #expect(throws: ExtractorError.self) { try run(image, mask: Image(width: 64, height: 48, channels: 1, repeating: 0), [:]) }
        #expect(throws: ExtractorError.self) { try run(image, ["distances": "one"]) }
        #expect(throws: ExtractorError.self) { try run(image, ["angles": "forty-five"]) }
        #expect(throws: ExtractorError.self) { try run(image, ["features": "asm,bogus"]) }
        #expect(throws: ExtractorError.self) { try run(image, ["distances": "64"]) }
    }
}
