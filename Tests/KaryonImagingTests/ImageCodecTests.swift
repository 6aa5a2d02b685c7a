import Foundation
@testable import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("Image I/O through libvips")
struct ImageCodecTests {
    func tempPath(_ name: String) -> String { TemporaryDirectory("codec").path + "/" + name }

    @Test("PNG round trips every layout losslessly", arguments: [1, 2, 3, 4])
    func pngRoundTrip8(channels: Int) throws {
        let pixels = (0..<(7 * 5 * channels)).map { UInt8(($0 * 37) % 256) }
        let image = try Image<UInt8>(width: 7, height: 5, channels: channels, pixels: pixels)
        let bytes = try ImageCodec.encode(.uint8(image), as: .png())
        #expect(ImageFormat.sniff(bytes) == .png)
        #expect(try ImageCodec.decode(data: bytes) == .uint8(image))
        let header = try ImageCodec.probe(data: bytes)
        #expect(header.width == 7 && header.height == 5 && header.channels == channels && header.bitDepth == 8)
    }

    @Test("16-bit PNG and TIFF round trip, including label images")
    func roundTrip16() throws {
        let labels = try Image<UInt16>(width: 6, height: 4, channels: 1, pixels: (0..<24).map { UInt16($0 * 2731) })
        for format in [EncodeFormat.png(), .tiff()] {
            let bytes = try ImageCodec.encode(.uint16(labels), as: format)
            #expect(try ImageCodec.decode(data: bytes) == .uint16(labels))
            #expect(try ImageCodec.probe(data: bytes).bitDepth == 16)
        }
        let rgb16 = try Image<UInt16>(width: 3, height: 2, channels: 3, pixels: (0..<18).map { UInt16($0 * 3000) })
        #expect(try ImageCodec.decode(data: ImageCodec.encode(.uint16(rgb16))) == .uint16(rgb16))
    }

    @Test("float TIFF round trips; float PNG is refused with advice")
    func floatTIFF() throws {
        let f = try Image<Float>(width: 3, height: 2, channels: 1, pixels: [0, 0.25, 0.5, 1, -2, 3.5])
        #expect(try ImageCodec.decode(data: ImageCodec.encode(.float32(f), as: .tiff(compressed: false))) == .float32(f))
        #expect(throws: ImageIOError.self) { try ImageCodec.encode(.float32(f), as: .png()) }
    }

    @Test("written files are readable and atomic writes leave no temporary files")
    func writeFile() throws {
        let path = tempPath("out.png")
        let image = try Image<UInt8>(width: 2, height: 2, channels: 3, repeating: 200)
        try ImageCodec.write(.uint8(image), to: path)
        #expect(try ImageCodec.decode(file: path) == .uint8(image))
        let dir = (path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.png"])
    }

    @Test("fixtures decode to the pixels scikit-image wrote")
    func fixtures() throws {
        let ihc = try Fixtures.rgb8("imaging/ihc-rgb.png")
        #expect(ihc.width == 64 && ihc.height == 48 && ihc.channels == 3)
        guard case .uint16(let g16) = try Fixtures.image("imaging/random-gray16.png") else {
            Issue.record("random-gray16.png should decode as 16-bit")
            return
        }
        #expect(g16.width == 31 && g16.height == 23 && g16.channels == 1)
    }

    @Test("JPEG decodes close to its source; CMYK JPEG is converted to RGB")
    func jpeg() throws {
        let source = try Fixtures.rgb8("imaging/ihc-rgb.png").doubles
        let jpeg = try Fixtures.rgb8("imaging/ihc.jpg")
        let header = try ImageCodec.probe(file: Fixtures.path("imaging/ihc.jpg"))
        #expect(header.format == .jpeg)
        let meanError = zip(jpeg.doubles, source).map { abs($0 - $1) }.reduce(0, +) / Double(source.count)
        #expect(meanError < 3, "quality-95 JPEG should be within a few grey levels, got \(meanError)")
        let cmyk = try Fixtures.image("imaging/ihc-cmyk.jpg")
        #expect(try ImageCodec.probe(file: Fixtures.path("imaging/ihc-cmyk.jpg")).isCMYK)
        #expect(cmyk.channels == 3 && cmyk.sampleType == .uint8)
    }

    @Test("multi-page TIFF: page count in the header and page selection on decode")
    func tiffPages() throws {
        let path = Fixtures.path("imaging/pages3-gray16.tif")
        #expect(try ImageCodec.probe(file: path).pageCount == 3)
        for page in 0..<3 {
            guard case .uint16(let image) = try ImageCodec.decode(file: path, options: DecodeOptions(page: page)) else {
                Issue.record("page \(page) should be 16-bit")
                continue
            }
            #expect(image[0, 0, 0] == UInt16(1000 * (page + 1)))
            #expect(image[15, 11, 0] == UInt16(1000 * (page + 1) + 15))
        }
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: path, options: DecodeOptions(page: 3)) } == .pageOutOfRange)
        #expect(ioErrorCode { _ = try ImageCodec.decode(file: path, options: DecodeOptions(page: -1)) } == .pageOutOfRange)
    }

    @Test("decoding in the calling thread and through libvips' pool gives the same pixels and the same errors")
    func pixelReadingPaths() throws {
        // Files of several strips (203 rows: three full 64-row strips and a partial one), every
        // sample type, PNG and TIFF, plus the JPEG, CMYK JPEG and multi-page TIFF fixtures.
        func image<P: PixelComponent>(_: P.Type, channels: Int, _ value: (Int) -> P) throws -> Image<P> {
            try Image(width: 301, height: 203, channels: channels, pixels: (0..<(301 * 203 * channels)).map(value))
        }
        var sources: [(String, [UInt8], DecodeOptions)] = []
        for channels in [1, 3, 4] {
            let rgb = AnyImage.uint8(try image(UInt8.self, channels: channels) { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 7) })
            sources.append(("png8-\(channels)", try ImageCodec.encode(rgb, as: .png()), .init()))
            sources.append(("tiff8-\(channels)", try ImageCodec.encode(rgb, as: .tiff()), .init()))
        }
        let gray16 = AnyImage.uint16(try image(UInt16.self, channels: 1) { UInt16(truncatingIfNeeded: $0 &* 40_503) })
        sources.append(("png16", try ImageCodec.encode(gray16, as: .png()), .init()))
        sources.append(("tiff16", try ImageCodec.encode(gray16, as: .tiff(compressed: false)), .init()))
        let float = AnyImage.float32(try image(Float.self, channels: 2) { Float($0 % 977) / 977 })
        sources.append(("tiff-float", try ImageCodec.encode(float, as: .tiff()), .init()))
        for name in ["ihc.jpg", "ihc-cmyk.jpg", "ihc-rgb.tif", "camera-gray.png"] {
            sources.append((name, [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("imaging/" + name)))), .init()))
        }
        let pages = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("imaging/pages3-gray16.tif"))))
        sources.append(("pages3-gray16.tif page 2", pages, DecodeOptions(page: 2)))

        for (name, bytes, options) in sources {
            let inCaller = try ImageCodec.decode(data: bytes, options: options, name: name, reading: .callingThread)
            let pooled = try ImageCodec.decode(data: bytes, options: options, name: name, reading: .threadPool)
            #expect(inCaller == pooled, "\(name)")
            #expect(inCaller.width > 0 && inCaller.height > 0, "\(name)")
            if name.hasPrefix("png") || name.hasPrefix("tiff") {
                #expect(inCaller.width == 301 && inCaller.height == 203, "\(name)")
            }
            let path = tempPath(name.replacingOccurrences(of: " ", with: "-"))
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(try ImageCodec.decode(file: path, options: options, reading: .callingThread) == pooled, "\(name) from a file")
            // Cut inside the pixel data: both paths refuse it rather than return grey rows (a
            // multi-page TIFF cut before its last page's directory has one page fewer).
            let cut = Array(bytes.prefix(bytes.count * 7 / 10))
            let codes = [ImageCodec.PixelReading.callingThread, .threadPool].map { reading in
                ioErrorCode { _ = try ImageCodec.decode(data: cut, options: options, name: name, reading: reading) }
            }
            #expect(codes[0] == codes[1], "\(name) cut")
            #expect(codes[0] == (options.page > 0 ? .pageOutOfRange : .corrupt), "\(name) cut")
        }
    }
}

@Suite("Resolution metadata")
struct ResolutionTests {
    @Test("a pixel size written with the image is read back from the header (PNG and TIFF)")
    func pixelSize() throws {
        let image = try Image<UInt8>(width: 4, height: 4, channels: 3, repeating: 7)
        for format in [EncodeFormat.png(), .tiff()] {
            let bytes = try ImageCodec.encode(.uint8(image), as: format, pixelSizeMicrons: 0.25)
            let size = try #require(try ImageCodec.probe(data: bytes).pixelSizeMicrons)
            #expect(abs(size - 0.25) < 1e-3, "\(format): \(size)")
            #expect(try ImageCodec.probe(data: ImageCodec.encode(.uint8(image), as: format)).pixelSizeMicrons == nil)
        }
    }
}
