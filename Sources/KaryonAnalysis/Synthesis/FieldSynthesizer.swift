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
            // Only ihc fields have DAB-positive nuclei; her2 membranes are drawn below.
            let positive = spec.kind == .ihc && rng.unit() < spec.positiveFraction
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
                klass = spec.kind == .fluorescence ? "nucleus" : "negative"
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

        var cells: Image<UInt16>? = nil
        if spec.kind == .her2 {
            cells = try drawMembranes(spec, &rng, labels: labels, nuclei: &nuclei, dab: &dOD)
        }
        if spec.kind == .fluorescence {
            return try fluorescence(spec, &rng, amount: hOD, labels: labels, nuclei: nuclei)
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
            nuclei: nuclei, cells: cells)
    }

    /// Cell classes drawn for a HER2 slide score: probabilities of 0, 1+, 2+, 3+ that keep the
    /// classes deciding the score well away from the 10% cut-offs.
    static func her2Mix(_ score: String, _ rng: inout SeededGenerator) -> [Double] {
        let p: [Double] = switch score {
        case "0": [1, rng.uniform(0...0.04), 0, 0]
        case "1+": [rng.uniform(0.3...0.7), rng.uniform(0.3...0.7), rng.uniform(0...0.03), 0]
        case "2+": [rng.uniform(0.1...0.4), rng.uniform(0.1...0.3), rng.uniform(0.3...0.6), rng.uniform(0...0.03)]
        default: [rng.uniform(0...0.2), rng.uniform(0.1...0.2), rng.uniform(0.1...0.3), rng.uniform(0.3...0.6)]
        }
        let total = p.reduce(0, +)
        return p.map { $0 / total }
    }

    /// HER2: grows cells from the nuclei (2.5–4.5 µm, nearest nucleus), and draws each cell's
    /// membrane — the cell's pixels within 1–1.5 µm of its boundary — with DAB on an arc whose
    /// length is the designed completeness: 0 none; 1+ faint (0.2–0.3 OD) on 20–60% of the ring;
    /// 2+ moderate (0.35–0.5 OD) and 3+ intense (0.9–1.2 OD) all round.
    static func drawMembranes(
        _ spec: SyntheticFieldSpec, _ rng: inout SeededGenerator, labels: [UInt16],
        nuclei: inout [SyntheticNucleus], dab: inout [Float]
    ) throws -> Image<UInt16> {
        let w = spec.width, h = spec.height, px = spec.pixelSizeMicrons
        let score = spec.her2Score ?? ["0", "1+", "2+", "3+"][Int(rng.next() % 4)]
        let mix = her2Mix(score, &rng)
        let nucleusLabels = try LabelImage(width: w, height: h, labels: labels.map { Int32($0) })
        let cells = try nucleusLabels.expanded(by: rng.uniform(2.5...4.5) / px).labels
        // Distance of every cell pixel to its cell's boundary (a 4-neighbour in another cell or
        // the background; the image edge is not a membrane).
        let boundary = (0..<(w * h)).map { i -> Bool in
            let l = cells[i], x = i % w, y = i / w
            guard l != 0 else { return false }
            return (x > 0 && cells[i - 1] != l) || (x < w - 1 && cells[i + 1] != l)
                || (y > 0 && cells[i - w] != l) || (y < h - 1 && cells[i + w] != l)
        }
        let d2 = squaredDistanceTransform(width: w, height: h) { boundary[$0] }
        let width = rng.uniform(1.0...1.5) / px
        var touches = [Bool](repeating: false, count: nuclei.count + 1)
        for i in 0..<(w * h) where cells[i] != 0 {
            let x = i % w, y = i / w
            if x == 0 || y == 0 || x == w - 1 || y == h - 1 { touches[Int(cells[i])] = true }
        }
        var arcs: [(start: Double, length: Double, od: Double)] = [(0, 0, 0)]
        for k in nuclei.indices {
            let u = rng.unit()
            var c = 0, acc = mix[0]
            while c < 3 && u >= acc { c += 1; acc += mix[c] }
            let (fraction, od): (Double, Double) = switch c {
            case 0: (0, 0)
            case 1: (rng.uniform(0.2...0.6), rng.uniform(0.2...0.3))
            case 2: (1, rng.uniform(0.35...0.5))
            default: (1, rng.uniform(0.9...1.2))
            }
            nuclei[k].intensityClass = ["0", "1+", "2+", "3+"][c]
            nuclei[k].membraneCompleteness = fraction
            nuclei[k].membraneOD = od
            nuclei[k].touchesBorder = touches[nuclei[k].id]
            arcs.append((rng.uniform(0...(2 * .pi)), fraction * 2 * .pi, od))
        }
        for i in 0..<(w * h) where cells[i] != 0 && labels[i] == 0 && Double(d2[i]) <= width * width {
            let l = Int(cells[i])
            let arc = arcs[l]
            guard arc.length > 0 else { continue }
            let n = nuclei[l - 1]
            var angle = atan2(Double(i / w) - n.centroidY, Double(i % w) - n.centroidX) - arc.start
            angle = angle.truncatingRemainder(dividingBy: 2 * .pi)
            if angle < 0 { angle += 2 * .pi }
            if angle <= arc.length { dab[i] += Float(arc.od * (1 + 0.1 * rng.normal())) }
        }
        return try Image(width: w, height: h, channels: 1, pixels: cells.map { UInt16($0) })
    }

    /// Fluorescence: nuclear signal proportional to the nuclei's designed amount on a dark,
    /// slowly varying background; blurred, with noise, as an 8-bit gray image.
    static func fluorescence(
        _ spec: SyntheticFieldSpec, _ rng: inout SeededGenerator, amount: [Float], labels: [UInt16],
        nuclei: [SyntheticNucleus]
    ) throws -> SyntheticField {
        let w = spec.width, h = spec.height
        let gain = rng.uniform(0.7...1.2), offset = rng.uniform(0.01...0.05)
        var field = try Image(width: w, height: h, channels: 1, pixels: amount.enumerated().map { i, a in
            Float(offset) + Float(gain) * (labels[i] != 0 ? a : a * 0.2)
        })
        if spec.blurMicrons > 0 { field = try gaussianBlur(field, sigma: spec.blurMicrons / spec.pixelSizeMicrons) }
        let gray = field.pixels.map { v -> UInt8 in
            UInt8(max(0, min(255, (Double(v) * 255 + spec.noiseSigma * rng.normal()).rounded())))
        }
        return SyntheticField(
            spec: spec, image: try Image(width: w, height: h, channels: 1, pixels: gray),
            labels: try Image(width: w, height: h, channels: 1, pixels: labels), nuclei: nuclei, cells: nil)
    }
}
