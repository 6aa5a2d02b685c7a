import Foundation
import KaryonImaging
import KaryonTestSupport
import Testing

/// `shared/docs/reliability-tests.md`, "Untrusted images": each bad input fails with a clear,
/// typed error and never yields pixels.
@Suite("Untrusted input")
struct UntrustedInputTests {
    let temp = TemporaryDirectory("untrusted")
    var dir: String { temp.path }

    func write(_ name: String, _ bytes: [UInt8]) -> String { temp.write(name, bytes) }

    func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
    }

    @Test("a missing file is reported as such")
    func missing() {
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: dir + "/nope.png") } == .fileNotFound)
        #expect(ioErrorCode { _ = try ImageCodec.probe(file: dir + "/nope.png") } == .fileNotFound)
    }

    @Test("a directory is not an image")
    func directory() {
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: dir) } == .unreadable)
    }

    @Test("text, empty files and unsupported formats are refused by magic bytes, whatever the extension")
    func notAnImage() throws {
        let text = write("notes.png", Array("patient,ki67\n1,23\n".utf8))
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: text) } == .unsupportedFormat)
        let empty = write("empty.tif", [])
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: empty) } == .unsupportedFormat)
        // GIF and BMP magic: real formats libvips could read, but not on Karyon's allowlist.
        let gif = write("x.png", Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0])
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: gif) } == .unsupportedFormat)
        let bmp = write("x.jpg", [0x42, 0x4D] + [UInt8](repeating: 0, count: 60))
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: bmp) } == .unsupportedFormat)
        // A PNG renamed .jpg still decodes: the content decides.
        let renamed = write("really-a-png.jpg", try fixtureBytes("imaging/ihc-rgb.png"))
        #expect(try ImageCodec.decode(file: renamed).width == 64)
    }

    @Test("truncated PNG, JPEG and TIFF fail as corrupt instead of decoding grey", arguments: [
        "imaging/ihc-rgb.png", "imaging/ihc.jpg", "imaging/ihc-rgb.tif",
    ])
    func truncated(name: String) throws {
        let bytes = try fixtureBytes(name)
        let cut = Array(bytes.prefix(bytes.count * 6 / 10))
        let code = ioErrorCode { _ = try ImageCodec.decode(data: cut) }
        #expect(code == .corrupt, "got \(String(describing: code))")
        let path = write("cut-" + (name as NSString).lastPathComponent, cut)
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: path) } == .corrupt)
    }

    @Test("a PNG claiming 100,000 × 100,000 pixels is refused at the header, quickly")
    func dimensionBomb() throws {
        let path = Fixtures.path("imaging/bomb-100000.png")
        let header = try ImageCodec.probe(file: path)
        #expect(header.width == 100_000 && header.height == 100_000)
        let clock = ContinuousClock()
        var code: ImageIOError.Code?
        let elapsed = clock.measure { code = ioErrorCode { _ = try ImageCodec.decode(file: path) } }
        #expect(code == .tooLarge)
        // Refusal happens before decoding: far below the time to touch 3·10¹⁰ bytes.
        #expect(elapsed < .seconds(5))
    }

    @Test("the pixel cap is configurable")
    func pixelCap() throws {
        let path = Fixtures.path("imaging/ihc-rgb.png")  // 64 × 48 = 3072 pixels
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: path, options: DecodeOptions(pixelLimit: 3071)) } == .tooLarge)
        #expect(try ImageCodec.decode(file: path, options: DecodeOptions(pixelLimit: 3072)).width == 64)
    }

    @Test("a PNG with a corrupted data chunk fails")
    func corruptChunk() throws {
        var bytes = try fixtureBytes("imaging/ihc-rgb.png")
        // Flip bytes in the middle of the compressed data (after the 33-byte signature + IHDR).
        for i in stride(from: bytes.count / 2, to: bytes.count / 2 + 64, by: 1) { bytes[i] ^= 0xA5 }
        #expect(ioErrorCode { _ = try ImageCodec.decode(data: bytes) } == .corrupt)
    }
}
