import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("Filters against scikit-image and SciPy")
struct FilterTests {
    let camera = try! Fixtures.rgb8("imaging/camera-gray.png")
    let ihc = try! Fixtures.rgb8("imaging/ihc-rgb.png")

    func compare(_ actual: [Double], _ name: String, absolute: Double) throws {
        let (_, expected) = try Fixtures.npy(name)
        let mismatch = firstMismatch(actual, expected, absolute: absolute)
        #expect(mismatch == nil, "\(name): \(mismatch ?? "")")
    }

    @Test("Gaussian blur equals filters.gaussian (mode nearest, truncate 4)")
    func gaussian() throws {
        try compare(gaussianBlur(ihc, sigma: 1.5).doubles, "imaging/ihc-gaussian-s1.5.npy", absolute: 2e-6)
        try compare(gaussianBlur(camera, sigma: 2).doubles, "imaging/camera-gaussian-s2.npy", absolute: 2e-6)
        try compare(gaussianBlur(camera, sigma: 0.7).doubles, "imaging/camera-gaussian-s0.7.npy", absolute: 2e-6)
    }

    @Test("Gaussian kernel: scipy's radius and unit sum; sigma must be positive")
    func kernel() throws {
        let k = try gaussianKernel(sigma: 1.5)
        #expect(k.count == 2 * 6 + 1)
        #expect(abs(k.reduce(0, +) - 1) < 1e-6)
        #expect(k.first == k.last)
        #expect(throws: ImagingError.self) { try gaussianKernel(sigma: 0) }
        #expect(throws: ImagingError.self) { try gaussianBlur(camera, sigma: -1) }
    }

    @Test("property: blurring a constant image leaves it constant")
    func constant() throws {
        let flat = try Image<UInt8>(width: 9, height: 7, channels: 3, repeating: 51)
        #expect(try gaussianBlur(flat, sigma: 3).pixels.allSatisfy { abs($0 - 0.2) < 1e-6 })
        #expect(try meanFilter(flat, radius: 2).pixels.allSatisfy { abs($0 - 0.2) < 1e-6 })
    }

    @Test("mean filter equals ndimage.uniform_filter(size 5, nearest)")
    func mean() throws {
        try compare(meanFilter(camera, radius: 2).doubles, "imaging/camera-mean-r2.npy", absolute: 2e-6)
    }

    @Test("median filter equals ndimage.median_filter for disk and square footprints, 8- and 16-bit")
    func median() throws {
        try compare(medianFilter(camera, footprint: .disk(radius: 2)).doubles, "imaging/camera-median-disk2.npy", absolute: 0)
        try compare(medianFilter(ihc, footprint: .square(radius: 1)).doubles, "imaging/ihc-median-square1.npy", absolute: 0)
        guard case .uint16(let g16) = try Fixtures.image("imaging/random-gray16.png") else {
            Issue.record("expected 16-bit")
            return
        }
        try compare(medianFilter(g16, footprint: .disk(radius: 1)).doubles, "imaging/gray16-median-disk1.npy", absolute: 0)
    }

    @Test("literal: a 3×3 median removes a single hot pixel")
    func medianLiteral() throws {
        var pixels = [UInt8](repeating: 10, count: 25)
        pixels[12] = 255
        let image = try Image<UInt8>(width: 5, height: 5, channels: 1, pixels: pixels)
        #expect(try medianFilter(image, footprint: .square(radius: 1)).pixels == [UInt8](repeating: 10, count: 25))
        #expect(Footprint.disk(radius: 2).count == 13)
        #expect(Footprint.square(radius: 1).count == 9)
    }

    @Test("gamma equals exposure.adjust_gamma on 8-bit images")
    func gamma() throws {
        try compare(adjustGamma(camera, gamma: 0.5).doubles, "imaging/camera-gamma-0.5.npy", absolute: 0)
        try compare(adjustGamma(camera, gamma: 2.2, gain: 0.9).doubles, "imaging/camera-gamma-2.2-gain0.9.npy", absolute: 0)
        #expect(throws: ImagingError.self) { try adjustGamma(camera, gamma: -1) }
    }

    @Test("brightness/contrast: literal values, clamping, and identity at (0, 1)")
    func brightnessContrast() throws {
        let image = try Image<UInt8>(width: 4, height: 1, channels: 1, pixels: [0, 100, 200, 250])
        #expect(try adjustBrightnessContrast(image, brightness: 0, contrast: 1) == image)
        #expect(try adjustBrightnessContrast(image, brightness: 0.1, contrast: 1.2).pixels == [26, 146, 255, 255])
        #expect(try adjustBrightnessContrast(image, brightness: -0.5, contrast: 1).pixels == [0, 0, 73, 123])
        #expect(throws: ImagingError.self) { try adjustBrightnessContrast(image, brightness: 2, contrast: 1) }
        #expect(throws: ImagingError.self) { try adjustBrightnessContrast(image, brightness: 0, contrast: -1) }
    }

    @Test("resize through libvips keeps size, layout and the mean of a smooth image")
    func resize() throws {
        let small = try ihc.resized(width: 32, height: 24)
        #expect(small.width == 32 && small.height == 24 && small.channels == 3)
        let meanA = ihc.doubles.reduce(0, +) / Double(ihc.pixelCount * 3)
        let meanB = small.doubles.reduce(0, +) / Double(small.pixelCount * 3)
        #expect(abs(meanA - meanB) < 2)
        #expect(throws: ImagingError.self) { try ihc.resized(width: 0, height: 3) }
    }
}
