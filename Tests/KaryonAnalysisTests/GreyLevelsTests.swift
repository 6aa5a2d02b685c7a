import Testing
import KaryonImaging
@testable import KaryonAnalysis

@Suite("Grey levels for the texture extractors")
struct GreyLevelsTests {
    /// scikit-image's `img_as_ubyte(rgb2gray(img_as_float(rgb)))`, written out: float64 v / max,
    /// the BT.709 weights summed in this order, `rint(255·g)`.
    static func reference(_ r: Double, _ g: Double, _ b: Double, max: Double) -> UInt8 {
        let y = (r / max) * 0.2125 + (g / max) * 0.7154 + (b / max) * 0.0721
        return UInt8(Swift.max(0, Swift.min(255, (y * 255).rounded(.toNearestOrEven))))
    }

    @Test("8- and 16-bit RGB(A) become rint(255·(0.2125 r + 0.7154 g + 0.0721 b)) of v / max, sample for sample")
    func integerLuminance() throws {
        var rng = SeededGenerator(seed: 11)
        for channels in [3, 4] {
            let n = 64 * 37
            let bytes = (0..<(n * channels)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let words = (0..<(n * channels)).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
            let gray8 = GreyLevels.ubyteGray(try Image(width: 64, height: 37, channels: channels, pixels: bytes))
            let gray16 = GreyLevels.ubyteGray(try Image(width: 64, height: 37, channels: channels, pixels: words))
            for i in 0..<n {
                let p = i * channels
                #expect(gray8[i] == Self.reference(Double(bytes[p]), Double(bytes[p + 1]), Double(bytes[p + 2]), max: 255))
                #expect(gray16[i] == Self.reference(Double(words[p]), Double(words[p + 1]), Double(words[p + 2]), max: 65535))
            }
        }
        // Extremes: white is 255 (the weights sum to 1 within rounding), black 0.
        #expect(GreyLevels.ubyteGray(try Image(width: 2, height: 1, channels: 3, pixels: [255, 255, 255, 0, 0, 0] as [UInt8])) == [255, 0])
    }

    @Test("float RGB whose luminance leaves 0…1 (or is NaN) is refused; inside, it follows the same formula")
    func floatLuminance() throws {
        let inside = try Image(width: 2, height: 1, channels: 3, pixels: [0.5, 0.25, 1, 0, 0, 0] as [Float])
        #expect(try GreyLevels.ubyteGray(inside, "glcm") == [Self.reference(0.5, 0.25, 1, max: 1), 0])
        let outside = try Image(width: 2, height: 1, channels: 3, pixels: [0.5, 1.5, 0, 0, 0, 0] as [Float])
        #expect(throws: ExtractorError.self) { try GreyLevels.ubyteGray(outside, "glcm") }
        let nan = try Image(width: 1, height: 1, channels: 3, pixels: [Float.nan, 0, 0])
        #expect(throws: ExtractorError.self) { try GreyLevels.ubyteGray(nan, "glcm") }
        // As scikit-image: the luminance must lie in 0…1, not each channel (1.2 · 0.2125 = 0.255).
        let redOver = try Image(width: 1, height: 1, channels: 3, pixels: [1.2, 0, 0] as [Float])
        #expect(try GreyLevels.ubyteGray(redOver, "glcm") == [Self.reference(Double(Float(1.2)), 0, 0, max: 1)])
    }
}
