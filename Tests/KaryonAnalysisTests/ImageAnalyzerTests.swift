import Foundation
import KaryonAnalysis
import KaryonImaging
import Testing

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
