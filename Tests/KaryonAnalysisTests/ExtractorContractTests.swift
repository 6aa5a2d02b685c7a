import KaryonAnalysis
import KaryonImaging
import Testing

/// An extractor that lies about its columns, to prove the runner catches it.
struct MisdeclaringExtractor: Extractor {
    static let descriptor = ExtractorDescriptor(
        id: "misdeclaring", version: "0.1.0", summary: "test double", references: [],
        parameters: [ParameterSpec("mode", .choice(["extra", "missing", "nan", "kind"]), default: .text("extra"), help: "")],
        determinism: .bitExact)
    let mode: String
    init(parameters: ParameterSet) throws { mode = parameters.text("mode") }
    func columns(for layout: InputLayout) -> [FeatureColumn] { [FeatureColumn("a", help: ""), FeatureColumn("b", help: "")] }
    func extract(_ input: ExtractionInput) throws -> FeatureVector {
        var v = FeatureVector()
        switch mode {
        case "extra":
            v.append("a", 1); v.append("b", 2); v.append("c", 3)
        case "missing":
            v.append("a", 1)
        case "nan":
            v.append("a", 1); v.append("b", .nan)
        default:
            v.append("a", 1); v.append("b", .text("two"))
        }
        return v
    }
}

@Suite("Extractor contract and registry")
struct ExtractorContractTests {
    let image = AnyImage.uint8(try! Image(width: 2, height: 2, channels: 3, pixels: [UInt8](repeating: 100, count: 12)))
    let registry = ExtractorRegistry([IntensityExtractor.self, MisdeclaringExtractor.self])

    @Test("the runner refuses output that differs from the declaration", arguments: ["extra", "missing", "nan", "kind"])
    func outputMismatch(mode: String) throws {
        let configured = try registry.configure("misdeclaring", text: ["mode": mode])
        do {
            _ = try configured.run(ExtractionInput(image: image), imageSHA256: "00")
            Issue.record("a mismatched output was accepted")
        } catch let e as ExtractorError {
            #expect(e.code == .outputMismatch)
        }
    }

    @Test("unknown extractors are refused with the list of available ones")
    func unknown() {
        do {
            _ = try ExtractorRegistry.standard.configure("glcmm")
            Issue.record("unknown extractor accepted")
        } catch let e as ExtractorError {
            #expect(e.code == .unknownExtractor && e.message.contains("intensity"))
        } catch { Issue.record("\(error)") }
    }

    @Test("result identity: id, version, parameter hash, image digest; the hash follows the parameters")
    func identity() throws {
        let a = try registry.configure("intensity")
        let b = try registry.configure("intensity", text: ["brightness": "luminance"])
        let c = try registry.configure("intensity", text: ["brightness": "channel-mean"])
        #expect(a.parameterHash == b.parameterHash)
        #expect(a.parameterHash != c.parameterHash)
        #expect(a.parameterHash.count == 64)
        let r = try a.run(ExtractionInput(image: image), imageSHA256: "abc")
        #expect(r.identity == ResultIdentity(extractor: "intensity", version: "1.0.0", parameterHash: a.parameterHash, imageSHA256: "abc"))
    }

    @Test("every standard extractor has a SemVer version, references and a kebab-case id")
    func descriptors() {
        for d in ExtractorRegistry.standard.descriptors {
            #expect(d.id.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" })
            #expect(d.version.split(separator: ".").count == 3 && d.version.split(separator: ".").allSatisfy { Int($0) != nil })
            #expect(!d.references.isEmpty)
        }
    }

    @Test("SHA-256 of a known input")
    func digest() {
        #expect(sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("a mask of the wrong size and an absurd pixel size are refused")
    func badInput() throws {
        let configured = try registry.configure("intensity")
        let mask = Image<UInt8>(width: 3, height: 2, channels: 1, repeating: 1)
        #expect(throws: ExtractorError.self) { try configured.run(ExtractionInput(image: image, mask: mask), imageSHA256: "0") }
        #expect(throws: ExtractorError.self) { try configured.run(ExtractionInput(image: image, pixelSizeMicrons: -1), imageSHA256: "0") }
        #expect(throws: ExtractorError.self) { try configured.run(ExtractionInput(image: image, pixelSizeMicrons: .infinity), imageSHA256: "0") }
    }
}
