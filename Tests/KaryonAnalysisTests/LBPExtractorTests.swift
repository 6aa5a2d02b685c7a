import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("lbp against scikit-image 0.26 local_binary_pattern")
struct LBPExtractorTests {
    struct Case: Decodable {
        var image: String
        var points: Int
        var radius: Double
        var method: String
        var sha256: String
        var histogram: [String: Int]
    }

    struct Cases: Decodable {
        var cases: [Case]
        var masked_uniform_8_1: [Int]
        var interior_uniform_8_1: [Int]
    }

    static let fixture: Cases = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("texture/lbp-cases.json")))
        return try! JSONDecoder().decode(Cases.self, from: data)
    }()

    struct Codes: ImageVisitor {
        let lbp: LocalBinaryPattern
        func visit<P: PixelComponent>(_ image: Image<P>) throws -> [UInt32] { try lbp.codes(image) }
    }

    @Test("codes are bit-identical (SHA-256 of the code image) for 8-bit, 16-bit and float images",
          arguments: 0..<LBPExtractorTests.fixture.cases.count)
    func codesBitExact(index: Int) throws {
        let c = Self.fixture.cases[index]
        let lbp = try LocalBinaryPattern(points: c.points, radius: c.radius, method: LBPMethod(rawValue: c.method)!)
        let codes = try Fixtures.image("texture/" + c.image).visit(Codes(lbp: lbp))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(codes.count * 4)
        for v in codes { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        var histogram: [String: Int] = [:]
        for v in codes { histogram[String(v), default: 0] += 1 }
        #expect(histogram == c.histogram, "\(c.image) P\(c.points) R\(c.radius) \(c.method)")
        #expect(sha256Hex(bytes) == c.sha256, "\(c.image) P\(c.points) R\(c.radius) \(c.method)")
        // Every code is one the method declares.
        let possible = Set(lbp.possibleCodes)
        #expect(codes.allSatisfy { possible.contains(Int($0)) })
    }

    func run(_ image: AnyImage, mask: Image<UInt8>? = nil, _ params: [String: String]) throws -> FeatureVector {
        try ExtractorRegistry.standard.configure("lbp", text: params)
            .run(ExtractionInput(image: image, mask: mask), imageSHA256: "0").features
    }

    @Test("the extractor's histogram is the normalised code count, with mask and border exclusion")
    func histograms() throws {
        let image = try Fixtures.image("texture/camera-64x48.png")
        let whole = try run(image, [:])
        let uniform = Self.fixture.cases.first { $0.image == "camera-64x48.png" && $0.points == 8 && $0.radius == 1 && $0.method == "uniform" }!
        #expect(whole.names == (0...9).map { "code_\($0)" })
        for k in 0...9 {
            #expect(whole["code_\(k)"]!.doubleValue! == Double(uniform.histogram[String(k)] ?? 0) / Double(64 * 48))
        }
        let mask = try Fixtures.rgb8("texture/mask-64x48.png").map { $0 != 0 ? UInt8(1) : 0 }
        let masked = try run(image, mask: mask, [:])
        let m = Self.fixture.masked_uniform_8_1, mt = Double(m.reduce(0, +))
        for k in 0...9 { #expect(masked["code_\(k)"]!.doubleValue! == Double(m[k]) / mt) }
        let interior = try run(image, ["border": "exclude"])
        let i = Self.fixture.interior_uniform_8_1, it = Double(i.reduce(0, +))
        for k in 0...9 { #expect(interior["code_\(k)"]!.doubleValue! == Double(i[k]) / it) }
    }

    @Test("ror columns are the minimal rotations: 36 necklaces for P = 8")
    func rorColumns() throws {
        let lbp = try LocalBinaryPattern(points: 8, radius: 1, method: .ror)
        #expect(lbp.possibleCodes.count == 36)
        #expect(lbp.possibleCodes.prefix(4) == [0, 1, 3, 5])
        // A literal example: on a 3×3 image with a bright centre every neighbour is below it.
        let img = try Image<UInt8>(width: 3, height: 3, channels: 1, pixels: [1, 1, 1, 1, 9, 1, 1, 1, 1])
        let codes = try LocalBinaryPattern(points: 8, radius: 1, method: .default).codes(img)
        #expect(codes[4] == 0)
        // The top-left pixel with P = 4: samples 0 right, 1 above, 2 left, 3 below; the two
        // outside read 0 < 1, the two inside equal the centre: bits 0 and 3.
        #expect(try LocalBinaryPattern(points: 4, radius: 1, method: .default).codes(img)[0] == 0b1001)
    }

    @Test("bad input: 1×1 image works, empty mask, non-finite float, too many columns, out-of-range radius")
    func badInput() throws {
        let one = try Image<UInt8>(width: 1, height: 1, channels: 1, pixels: [7])
        let f = try run(.uint8(one), [:])
        // All eight samples fall outside and read 0 < 7: pattern 0, uniform code 0.
        #expect(f["code_0"]?.doubleValue == 1)
        #expect(throws: ExtractorError.self) { try run(.uint8(one), ["border": "exclude"]) }
        let image = try Fixtures.image("texture/camera-64x48.png")
        let empty = Image<UInt8>(width: 64, height: 48, channels: 1, repeating: 0)
        #expect(throws: ExtractorError.self) { try run(image, mask: empty, [:]) }
        let wrong = Image<UInt8>(width: 3, height: 3, channels: 1, repeating: 1)
        #expect(throws: ExtractorError.self) { try run(image, mask: wrong, [:]) }
        let nan = try Image<Float>(width: 2, height: 1, channels: 1, pixels: [0.5, .nan])
        #expect(throws: ExtractorError.self) { try run(.float32(nan), [:]) }
        #expect(throws: ExtractorError.self) { try run(image, ["method": "default", "points": "16"]) }
        #expect(throws: ExtractorError.self) { try run(image, ["radius": "0"]) }
        #expect(throws: ExtractorError.self) { try run(image, ["radius": "one"]) }
    }
}
