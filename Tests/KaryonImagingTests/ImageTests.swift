import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("Image value type")
struct ImageTests {
    let image = try! Image<UInt8>(width: 4, height: 3, channels: 2, pixels: (0..<24).map(UInt8.init))

    @Test("samples are addressed as [x, y, channel], row-major and interleaved")
    func addressing() {
        #expect(image[0, 0, 0] == 0)
        #expect(image[0, 0, 1] == 1)
        #expect(image[1, 0, 0] == 2)
        #expect(image[0, 1, 0] == 8)
        #expect(image[3, 2, 1] == 23)
    }

    @Test("a crop is a view with the right samples, and contiguous() compacts it")
    func cropView() throws {
        let crop = try image.cropped(x: 1, y: 1, width: 2, height: 2)
        #expect(!crop.isContiguous)
        #expect(crop.pixels == [10, 11, 12, 13, 18, 19, 20, 21])
        let nested = try crop.cropped(x: 1, y: 1, width: 1, height: 1)
        #expect(nested.pixels == [20, 21])
        #expect(crop.contiguous().isContiguous)
        #expect(crop == crop.contiguous())
    }

    @Test("writing through a crop does not change the parent (copy-on-write)")
    func cropCopyOnWrite() throws {
        var crop = try image.cropped(x: 0, y: 0, width: 1, height: 1)
        crop[0, 0, 0] = 99
        #expect(crop[0, 0, 0] == 99)
        #expect(image[0, 0, 0] == 0)
    }

    @Test("crops outside the image and wrong sample counts are refused")
    func invalid() {
        #expect(throws: ImagingError.self) { try image.cropped(x: 3, y: 0, width: 2, height: 1) }
        #expect(throws: ImagingError.self) { try image.cropped(x: 0, y: 0, width: 0, height: 1) }
        #expect(throws: ImagingError.self) { try Image<UInt8>(width: 2, height: 2, channels: 1, pixels: [1, 2, 3]) }
        #expect(throws: ImagingError.self) { try Image<UInt8>(width: 0, height: 2, channels: 1, pixels: []) }
        #expect(throws: ImagingError.self) { try image.channel(2) }
    }

    @Test("channel extraction and stacking are inverses")
    func channels() throws {
        let c0 = try image.channel(0), c1 = try image.channel(1)
        #expect(c0.pixels == stride(from: 0, to: 24, by: 2).map(UInt8.init))
        #expect(try Image.stacking([c0, c1]) == image)
        #expect(image.colorChannels == 1)
    }

    @Test("normalizedFloat divides by the nominal maximum")
    func normalized() throws {
        let i16 = try Image<UInt16>(width: 2, height: 1, channels: 1, pixels: [0, 65535])
        #expect(i16.normalizedFloat().pixels == [0, 1])
        let i8 = try Image<UInt8>(width: 2, height: 1, channels: 1, pixels: [51, 255])
        #expect(firstMismatch(i8.normalizedFloat().doubles, [0.2, 1], absolute: 1e-7) == nil)
    }
}
