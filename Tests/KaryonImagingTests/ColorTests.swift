import KaryonImaging
import KaryonTestSupport
import Testing

@Suite("Colour: gray, optical density, deconvolution")
struct ColorTests {
    let ihc = try! Fixtures.rgb8("imaging/ihc-rgb.png")

    func expectFixture(_ actual: Image<Float>, _ name: String, absolute: Double, relative: Double = 0) throws {
        let (shape, values) = try Fixtures.npy(name)
        #expect(shape.reduce(1, *) == actual.pixelCount * actual.channels, "shape \(shape)")
        let mismatch = firstMismatch(actual.doubles, values, absolute: absolute, relative: relative)
        #expect(mismatch == nil, "\(name): \(mismatch ?? "")")
    }

    @Test("rgbToGray equals scikit-image rgb2gray on natural and random images")
    func gray() throws {
        try expectFixture(rgbToGray(ihc), "imaging/ihc-rgb2gray.npy", absolute: 1e-6)
        try expectFixture(rgbToGray(try Fixtures.rgb8("imaging/random-rgb.png")), "imaging/random-rgb2gray.npy", absolute: 1e-6)
    }

    @Test("literal: white is 1, black is 0, pure green is 0.7154")
    func grayLiteral() throws {
        let px = try Image<UInt8>(width: 3, height: 1, channels: 3, pixels: [255, 255, 255, 0, 0, 0, 0, 255, 0])
        let g = rgbToGray(px).pixels
        #expect(abs(g[0] - 1) < 1e-6 && g[1] == 0 && abs(g[2] - 0.7154) < 1e-6)
    }

    @Test("scikit-image convention equals separate_stains with hed_from_rgb and hdx_from_rgb")
    func scikitDeconvolution() throws {
        try expectFixture(deconvolveStains(ihc, matrix: .scikitImageHED, convention: .scikitImage), "imaging/ihc-hed.npy", absolute: 2e-6, relative: 1e-5)
        try expectFixture(deconvolveStains(ihc, matrix: .scikitImageHDX, convention: .scikitImage), "imaging/ihc-hdx.npy", absolute: 2e-6, relative: 1e-5)
    }

    @Test("QuPath convention: log10 OD with I0 = 255 and unit H-DAB vectors")
    func qupathDeconvolution() throws {
        try expectFixture(opticalDensity(ihc), "imaging/ihc-qupath-od.npy", absolute: 1e-6, relative: 1e-6)
        try expectFixture(deconvolveStains(ihc, matrix: .qupathHDAB), "imaging/ihc-qupath-hdab.npy", absolute: 2e-6, relative: 1e-5)
    }

    @Test("literal: white glass has zero OD and zero stain; 25.5 grey is OD 1")
    func odLiteral() throws {
        let px = try Image<UInt8>(width: 2, height: 1, channels: 3, pixels: [255, 255, 255, 0, 0, 0])
        let od = try opticalDensity(px).pixels
        #expect(od[0] == 0 && od[1] == 0 && od[2] == 0)
        // max(I, 1): black clips to −log10(1/255) = 2.40654.
        #expect(abs(Double(od[3]) - 2.406540) < 1e-5)
        let stains = try deconvolveStains(px, matrix: .qupathHDAB).pixels
        #expect(stains[0] == 0 && stains[1] == 0 && stains[2] == 0)
        let tenth = try Image<UInt16>(width: 1, height: 1, channels: 3, pixels: [6554, 6554, 6554])
        let od16 = try opticalDensity(tenth, background: RGBBackground(r: 65535, g: 65535, b: 65535)).pixels
        #expect(abs(Double(od16[0]) - 1) < 1e-4)
    }

    @Test("property: a pixel rendered from known stain amounts deconvolves back to them")
    func roundTrip() throws {
        let m = StainMatrix.qupathHDAB
        for (h, d) in [(0.3, 0.0), (0.0, 0.5), (0.4, 0.7), (0.05, 0.02)] {
            var rgb: [UInt16] = []
            for c in 0..<3 {
                let vector = [m.stains[0], m.stains[1]].map { [$0.r, $0.g, $0.b][c] }
                let od = h * vector[0] + d * vector[1]
                rgb.append(UInt16((65535 * pow10(-od)).rounded()))
            }
            let image = try Image<UInt16>(width: 1, height: 1, channels: 3, pixels: rgb)
            let s = try deconvolveStains(image, matrix: m).pixels
            #expect(abs(Double(s[0]) - h) < 1e-3 && abs(Double(s[1]) - d) < 1e-3 && abs(Double(s[2])) < 1e-3, "\(h), \(d) → \(s)")
        }
    }

    @Test("stain matrices: presets are unit or raw as their tools use them; bad vectors are refused")
    func matrices() throws {
        let q = StainMatrix.qupathHDAB
        for s in q.stains { #expect(abs(s.length - 1) < 1e-9) }
        #expect(StainMatrix.scikitImageHED.stains[1].r == 0.07)
        // Residual is orthogonal to both stains.
        let r = q.stains[2]
        for s in q.stains.prefix(2) { #expect(abs(s.r * r.r + s.g * r.g + s.b * r.b) < 1e-12) }
        #expect(throws: ImagingError.self) { try StainMatrix([StainVector("a", 1, 0, 0), StainVector("b", 2, 0, 0)]) }
        #expect(throws: ImagingError.self) { try StainMatrix([StainVector("a", 0, 0, 0), StainVector("b", 0, 1, 0)]) }
        #expect(throws: ImagingError.self) { try StainMatrix([StainVector("a", 1, 0, 0)]) }
        #expect(StainMatrix.named("h-dab") == q)
        #expect(StainMatrix.named("nonsense") == nil)
    }

    @Test("gray input is refused by stain operations with advice")
    func grayRefused() throws {
        let gray = try Image<UInt8>(width: 2, height: 2, channels: 1, repeating: 100)
        #expect(throws: ImagingError.self) { try deconvolveStains(gray, matrix: .qupathHDAB) }
        #expect(throws: ImagingError.self) { try opticalDensity(gray) }
    }

    @Test("background estimate is the glass colour of a mostly white field")
    func background() throws {
        var pixels = [UInt8](repeating: 0, count: 100 * 100 * 3)
        for i in 0..<(100 * 100) {
            let glass = i % 10 != 0
            pixels[i * 3] = glass ? 240 : 90
            pixels[i * 3 + 1] = glass ? 238 : 60
            pixels[i * 3 + 2] = glass ? 242 : 120
        }
        let b = try estimateBackground(try Image(width: 100, height: 100, channels: 3, pixels: pixels))
        #expect(b.r == 240 && b.g == 238 && b.b == 242)
    }
}

private func pow10(_ x: Double) -> Double { Foundation.pow(10, x) }

import Foundation
