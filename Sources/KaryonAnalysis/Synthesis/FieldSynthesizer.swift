import Foundation
import KaryonImaging

/// Renders deterministic brightfield H-DAB fields with the Beer–Lambert stain model.
///
/// Every pixel's optical density is the sum of stain amounts times their OD vectors (QuPath's
/// H-DAB unit vectors): `OD_c = H·h_c + DAB·d_c + background`, and the transmitted intensity is
/// `I_c = 255 · 10^(−OD_c)`. Nuclei are star-convex blobs (ellipses with low-order radial
/// harmonics), of physical size drawn from ``SyntheticFieldSpec/diameterMicrons``, placed without
/// overlap (touching allowed), with a chromatin texture and a slightly darker rim whose mean is
/// the designed OD. A known fraction is DAB-positive at 1+, 2+ or 3+ intensity, with margins of at
/// least 0.05 OD from QuPath's thresholds. The intensity image is blurred by the optics, and sensor
/// noise is added before quantisation to 8 bits.
///
/// ## References
/// - A. C. Ruifrok, D. A. Johnston, Anal. Quant. Cytol. Histol. 23(4):291–299, 2001 (stain OD model).
/// - QuPath "H-DAB default" stain vectors and positive-cell thresholds (P. Bankhead et al.,
///   Sci. Rep. 7:16878, 2017, doi:10.1038/s41598-017-17204-5).
public enum FieldSynthesizer {
    static let hematoxylin = (r: 0.65111, g: 0.70119, b: 0.29049)
    static let dab = (r: 0.26917, g: 0.56824, b: 0.77759)

    /// Renders the field described by `spec`.
    /// - Throws: ``ExtractorError/Code/invalidParameter`` when the spec is out of range.
    public static func render(_ spec: SyntheticFieldSpec) throws -> SyntheticField {
        try spec.validate()
        var rng = SeededGenerator(seed: spec.seed &* 0x2545_F491_4F6C_DD1D &+ 0x1234_5678)
        let w = spec.width, h = spec.height, n = w * h
        let px = spec.pixelSizeMicrons
        var hOD = [Float](repeating: 0, count: n)
        var dOD = [Float](repeating: 0, count: n)
        var labels = [UInt16](repeating: 0, count: n)

        // Background: faint hematoxylin counterstain and DAB, varying smoothly across the field.
        let waves = (0..<4).map { _ in
            (fx: rng.uniform(0.5...3) / Double(w), fy: rng.uniform(0.5...3) / Double(h), phase: rng.uniform(0...(2 * .pi)))
        }
        let hBase = rng.uniform(0.02...0.05), dBase = rng.uniform(0.0...0.015)
        for y in 0..<h {
            for x in 0..<w {
                var v = 0.0
                for wave in waves { v += sin(2 * .pi * (wave.fx * Double(x) + wave.fy * Double(y)) + wave.phase) }
                let s = 1 + 0.25 * v / Double(waves.count)
                hOD[y * w + x] = Float(hBase * s)
                dOD[y * w + x] = Float(dBase * s)
            }
        }

        // Nuclei.
        let areaMM2 = Double(n) * px * px / 1e6
        // Cellularity varies from field to field: ±30% around the requested density.
        let target = min(Int(UInt16.max) - 1, Int((spec.densityPerMM2 * areaMM2 * rng.uniform(0.7...1.3)).rounded()))
        var nuclei: [SyntheticNucleus] = []
        var attempts = 0
        while nuclei.count < target && attempts < target * 30 {
            attempts += 1
            let diameter = rng.uniform(spec.diameterMicrons) / px
            let aspect = rng.uniform(1.0...1.5)
            let a = diameter / 2 * aspect.squareRoot(), b = diameter / 2 / aspect.squareRoot()
            let theta = rng.uniform(0...Double.pi)
            let harmonics = (2...4).map { k in (k: Double(k), eps: rng.uniform(0...0.06), phase: rng.uniform(0...(2 * .pi))) }
            let cx = rng.uniform(0...Double(w - 1)), cy = rng.uniform(0...Double(h - 1))
            let reach = a * 1.25 + 1
            let x0 = max(0, Int(cx - reach)), x1 = min(w - 1, Int(cx + reach))
            let y0 = max(0, Int(cy - reach)), y1 = min(h - 1, Int(cy + reach))
            // Normalised radius ρ of a pixel (≤ 1 inside).
            func rho(_ x: Int, _ y: Int) -> Double {
                let dx = Double(x) - cx, dy = Double(y) - cy
                let u = dx * cos(theta) + dy * sin(theta), v = -dx * sin(theta) + dy * cos(theta)
                let phi = atan2(v, u)
                var scale = 1.0
                for hm in harmonics { scale += hm.eps * cos(hm.k * phi + hm.phase) }
                return ((u / a) * (u / a) + (v / b) * (v / b)).squareRoot() / scale
            }
            var pixels: [Int] = []
            var blocked = false
            for y in y0...y1 where !blocked {
                for x in x0...x1 where rho(x, y) <= 1 {
                    if labels[y * w + x] != 0 { blocked = true; break }
                    pixels.append(y * w + x)
                }
            }
            // Too small to be a nucleus (cut by the border) or overlapping another: try elsewhere.
            guard !blocked, Double(pixels.count) * px * px >= 10 else { continue }

            let id = nuclei.count + 1
            let positive = rng.unit() < spec.positiveFraction
            let klass: String
            let dMean: Double
            var hMean: Double
            if positive {
                switch rng.unit() {
                case ..<0.4: klass = "1+"; dMean = rng.uniform(0.26...0.34)
                case ..<0.75: klass = "2+"; dMean = rng.uniform(0.46...0.54)
                default: klass = "3+"; dMean = rng.uniform(0.68...0.9)
                }
                hMean = rng.uniform(0.15...0.4)
            } else {
                klass = "negative"
                dMean = rng.uniform(0.0...0.05)
                hMean = rng.uniform(0.35...0.75)
            }
            hMean *= spec.hematoxylinScale
            var sx = 0.0, sy = 0.0
            for p in pixels {
                let x = p % w, y = p / w
                let r = rho(x, y)
                // Rim profile 0.9 + 0.2ρ² (mean 1 over a disc) and zero-mean chromatin texture.
                let texture = 1 + 0.12 * rng.normal()
                let profile = (0.9 + 0.2 * r * r) * max(0.5, texture)
                hOD[p] = Float(hMean * profile)
                dOD[p] = Float(dMean * profile)
                labels[p] = UInt16(id)
                sx += Double(x)
                sy += Double(y)
            }
            nuclei.append(SyntheticNucleus(
                id: id, centroidX: sx / Double(pixels.count), centroidY: sy / Double(pixels.count),
                areaPixels: pixels.count, hematoxylinOD: hMean, dabOD: dMean, intensityClass: klass))
        }

        // Beer–Lambert to intensities, optics blur, sensor noise, 8-bit quantisation.
        var intensity = [Float](repeating: 0, count: n * 3)
        let vectors = [(hematoxylin.r, dab.r), (hematoxylin.g, dab.g), (hematoxylin.b, dab.b)]
        for i in 0..<n {
            for c in 0..<3 {
                let od = Double(hOD[i]) * vectors[c].0 + Double(dOD[i]) * vectors[c].1
                intensity[i * 3 + c] = Float(pow(10, -od))
            }
        }
        var field = try Image(width: w, height: h, channels: 3, pixels: intensity)
        if spec.blurMicrons > 0 {
            field = try gaussianBlur(field, sigma: spec.blurMicrons / px)
        }
        let blurred = field.pixels
        var rgb = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<(n * 3) {
            let v = Double(blurred[i]) * 255 + spec.noiseSigma * rng.normal()
            rgb[i] = UInt8(max(0, min(255, v.rounded())))
        }
        return SyntheticField(
            spec: spec,
            image: try Image(width: w, height: h, channels: 3, pixels: rgb),
            labels: try Image(width: w, height: h, channels: 1, pixels: labels),
            nuclei: nuclei)
    }
}
