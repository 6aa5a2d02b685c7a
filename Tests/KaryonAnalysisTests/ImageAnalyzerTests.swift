import Foundation
import KaryonAnalysis
import KaryonImaging
import Synchronization
import Testing

/// Counts how often the work it shares with its kind is computed, per image run.
private struct SharingProbe: Extractor {
    static let computations = Atomic<Int>(0)
    static let descriptor = ExtractorDescriptor(
        id: "sharing-probe", version: "1.0.0", summary: "test", references: [], parameters: [], determinism: .bitExact)
    init(parameters: ParameterSet) throws {}
    func columns(for layout: InputLayout) -> [FeatureColumn] { [FeatureColumn("value", help: "1")] }
    func extract(_ input: ExtractionInput) throws -> FeatureVector {
        let compute = { () -> Double in
            Self.computations.add(1, ordering: .relaxed)
            return 1
        }
        var out = FeatureVector()
        out.append("value", try input.shared.map { try $0.value(for: "probe", compute) } ?? compute())
        return out
    }
}

@Suite("Running an image's extractors")
struct ImageAnalyzerTests {
    func configured(_ ids: [String]) throws -> [ConfiguredExtractor] {
        try ids.map { try ExtractorRegistry.standard.configure($0) }
    }

    /// A synthetic H-DAB field at 0.5 µm/px.
    func field(width: Int, height: Int, seed: UInt64) throws -> ExtractionInput {
        var spec = SyntheticFieldSpec()
        spec.width = width
        spec.height = height
        spec.seed = seed
        return ExtractionInput(image: .uint8(try FieldSynthesizer.render(spec).image), pixelSizeMicrons: 0.5)
    }

    @Test("side by side, the extractors give the same results in the same order as one after the other")
    func sideBySideEqualsOneByOne() throws {
        let input = try field(width: 192, height: 160, seed: 5)
        let extractors = try configured(["nuclei", "intensity", "ki67", "glcm", "her2"])
        let oneByOne = try ImageAnalyzer(extractors: extractors).run(input, imageSHA256: "abc")
        for atOnce in [2, 3, 8] {
            let sideBySide = try ImageAnalyzer(extractors: extractors, extractorsAtOnce: atOnce).run(input, imageSHA256: "abc")
            #expect(sideBySide.map(\.identity.extractor) == ["nuclei", "intensity", "ki67", "glcm", "her2"])
            #expect(sideBySide == oneByOne, "\(atOnce) at once")
        }
        #expect(oneByOne[0].objects?.count ?? 0 > 10)
    }

    @Test("extractors asking for the same segmentation share it, and each result equals the extractor's own run")
    func sharedSegmentation() throws {
        let input = try field(width: 256, height: 192, seed: 11)
        // nuclei with ki67's detection shares ki67's segmentation; default nuclei and her2 do not.
        let extractors = [
            try ExtractorRegistry.standard.configure("nuclei", text: ["detection": "hematoxylin+dab"]),
            try ExtractorRegistry.standard.configure("ki67"),
            try ExtractorRegistry.standard.configure("nuclei"),
            try ExtractorRegistry.standard.configure("her2"),
        ]
        #expect(input.shared == nil)
        let alone = try extractors.map { try $0.run(input, imageSHA256: "s") }
        #expect(alone[0].objects?.nuclei == alone[1].objects?.nuclei)
        #expect(alone[0].objects?.nuclei != alone[2].objects?.nuclei, "the two detections differ on this field")
        for atOnce in [1, 2, 4] {
            let together = try ImageAnalyzer(extractors: extractors, extractorsAtOnce: atOnce).run(input, imageSHA256: "s")
            #expect(together == alone, "\(atOnce) at once")
        }
    }

    @Test("an analyzer gives the extractors of one image the same shared work, and each image its own")
    func sharedWorkPerImage() throws {
        let probe = try ExtractorRegistry([SharingProbe.self]).configure("sharing-probe")
        let input = try field(width: 32, height: 32, seed: 1)
        for atOnce in [1, 3] {
            let analyzer = ImageAnalyzer(extractors: [probe, probe, probe], extractorsAtOnce: atOnce)
            let before = SharingProbe.computations.load(ordering: .relaxed)
            _ = try analyzer.run(input, imageSHA256: "")
            _ = try analyzer.run(input, imageSHA256: "")
            #expect(SharingProbe.computations.load(ordering: .relaxed) - before == 2, "once per run, \(atOnce) at once")
        }
    }

    @Test("with shared work a failure is still reported in the failing extractor's name")
    func sharedFailureNamesItsExtractor() throws {
        let gray = try Image<UInt8>(width: 64, height: 48, channels: 1, pixels: (0..<(64 * 48)).map { UInt8($0 % 251) })
        let input = ExtractionInput(image: .uint8(gray), pixelSizeMicrons: 0.5)
        // Both ask for the same segmentation; whichever computes it first fails, and its failure
        // is not kept for the other.
        let extractors = [try ExtractorRegistry.standard.configure("nuclei", text: ["detection": "hematoxylin+dab"]),
                          try ExtractorRegistry.standard.configure("ki67")]
        for atOnce in [1, 2] {
            #expect {
                _ = try ImageAnalyzer(extractors: extractors, extractorsAtOnce: atOnce).run(input, imageSHA256: "")
            } throws: { error in
                (error as? ExtractorError)?.message.hasPrefix("nuclei:") == true
            }
        }
    }

    @Test("one thread per image (as in workers) gives the same results as all cores")
    func oneThreadPerImage() throws {
        let input = try field(width: 300, height: 220, seed: 9)
        let analyzer = ImageAnalyzer(extractors: try configured(["nuclei", "ki67", "glcm", "lbp", "color", "haralick"]))
        let allCores = try analyzer.run(input, imageSHA256: "")
        Parallelism.setThreadsPerImage(1)
        defer { Parallelism.setThreadsPerImage(0) }
        #expect(try analyzer.run(input, imageSHA256: "") == allCores)
    }

    @Test("side by side, the error is the first failing extractor's, as one after the other")
    func firstErrorInOrder() throws {
        // A gray image: intensity and glcm succeed, every H-DAB extractor refuses it.
        let gray = try Image<UInt8>(width: 64, height: 48, channels: 1, pixels: (0..<(64 * 48)).map { UInt8($0 % 251) })
        let input = ExtractionInput(image: .uint8(gray), pixelSizeMicrons: 0.5)
        let extractors = try configured(["intensity", "her2", "glcm", "ki67"])
        func message(_ atOnce: Int) -> String? {
            do {
                _ = try ImageAnalyzer(extractors: extractors, extractorsAtOnce: atOnce).run(input, imageSHA256: "")
                return nil
            } catch let error as ExtractorError {
                return error.message
            } catch {
                return "\(error)"
            }
        }
        let expected = try #require(message(1))
        #expect(expected.hasPrefix("her2:"), "\(expected)")
        for atOnce in [2, 4] { #expect(message(atOnce) == expected) }
    }
}
