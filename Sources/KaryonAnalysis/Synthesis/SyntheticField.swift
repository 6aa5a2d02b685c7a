import Foundation
import KaryonImaging

/// What to render: a brightfield H-DAB field with known nuclei (`ihc`: nuclear marker such as
/// Ki-67; `her2`: membrane marker with known per-cell class and slide score) or a fluorescence
/// field of bright nuclei on a dark background.
public struct SyntheticFieldSpec: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case ihc, her2, fluorescence }

    public var kind: Kind = .ihc
    public var width: Int = 512
    public var height: Int = 512
    /// Micrometres per pixel; nucleus sizes are physical, so they scale with it.
    public var pixelSizeMicrons: Double = 0.5
    public var seed: UInt64 = 1
    /// Fraction of nuclei that are DAB-positive (1+ or stronger).
    public var positiveFraction: Double = 0.3
    /// Mean nuclei per mm²; each field draws its own within ±30%, before rejecting placements
    /// that would overlap.
    public var densityPerMM2: Double = 2000
    /// Range of nucleus equivalent diameters in µm.
    public var diameterMicrons: ClosedRange<Double> = 6...11
    /// Standard deviation of additive sensor noise, in 8-bit grey levels.
    public var noiseSigma: Double = 2
    /// Optical blur (Gaussian σ) in µm.
    public var blurMicrons: Double = 0.4
    /// Counterstain strength: multiplies the nuclei's hematoxylin OD (1 = the designed range,
    /// 0.35–0.75 OD for negative nuclei).
    public var hematoxylinScale: Double = 1
    /// HER2 fields: the ASCO/CAP slide score the cell classes are drawn to give ("0", "1+", "2+",
    /// "3+"); nil draws one from the seed.
    public var her2Score: String? = nil

    public init() {}

    /// Checks the spec and says what to change.
    public func validate() throws {
        func bad(_ message: String) -> ExtractorError { ExtractorError(.invalidParameter, message) }
        guard (16...16384).contains(width), (16...16384).contains(height) else {
            throw bad("field size must be 16 to 16384 pixels per side, got \(width)x\(height)")
        }
        guard pixelSizeMicrons >= 0.05, pixelSizeMicrons <= 5 else {
            throw bad("pixel size must be 0.05 to 5 µm, got \(pixelSizeMicrons)")
        }
        guard (0...1).contains(positiveFraction) else { throw bad("positive fraction must be 0 to 1, got \(positiveFraction)") }
        guard densityPerMM2 >= 0, densityPerMM2 <= 20000 else { throw bad("density must be 0 to 20000 nuclei/mm², got \(densityPerMM2)") }
        guard diameterMicrons.lowerBound >= 2, diameterMicrons.upperBound <= 40 else {
            throw bad("nucleus diameters must lie within 2 to 40 µm")
        }
        guard noiseSigma >= 0, noiseSigma <= 50 else { throw bad("noise sigma must be 0 to 50 grey levels") }
        guard blurMicrons >= 0, blurMicrons <= 5 else { throw bad("blur must be 0 to 5 µm") }
        if let her2Score, !["0", "1+", "2+", "3+"].contains(her2Score) { throw bad("HER2 score must be 0, 1+, 2+ or 3+, got \(her2Score)") }
        guard hematoxylinScale >= 0.1, hematoxylinScale <= 3 else { throw bad("hematoxylin scale must be 0.1 to 3") }
    }
}

/// Ground truth of one rendered nucleus.
public struct SyntheticNucleus: Sendable, Equatable {
    /// Label in the instance image (1-based).
    public var id: Int
    /// Centroid of the rasterised nucleus, pixels (x = column, y = row, origin top-left).
    public var centroidX: Double
    public var centroidY: Double
    public var areaPixels: Int
    /// Mean hematoxylin and DAB optical density designed for the nucleus (QuPath OD units).
    public var hematoxylinOD: Double
    public var dabOD: Double
    /// `ihc`: "negative", "1+", "2+" or "3+" by QuPath's default thresholds 0.2 / 0.4 / 0.6 on DAB
    /// OD mean. `her2`: the cell's membrane class "0", "1+", "2+" or "3+". `fluorescence`: "nucleus".
    public var intensityClass: String
    /// `her2`: the designed fraction of the membrane stained (0–1) and its DAB OD.
    public var membraneCompleteness: Double = 0
    public var membraneOD: Double = 0
    /// `her2`: the cell reaches the image edge (its membrane is not fully visible; not scored).
    public var touchesBorder: Bool = false

    public var isPositive: Bool { intensityClass != "negative" }
}

/// A rendered field: the RGB image, the 16-bit instance labels and the per-nucleus truth.
public struct SyntheticField: Sendable {
    public var spec: SyntheticFieldSpec
    public var image: Image<UInt8>
    public var labels: Image<UInt16>
    public var nuclei: [SyntheticNucleus]
    /// `her2`: cell labels (grown from the nuclei), 0 = background.
    public var cells: Image<UInt16>?

    /// `her2`: the slide score by ASCO/CAP 2018 over cells not touching the edge
    /// (``HER2Extractor/slideScore(percentages:)``).
    public var her2Score: String? {
        guard spec.kind == .her2 else { return nil }
        return HER2Extractor.slideScore(percentages: her2Percentages)
    }

    /// `her2`: percentages of scored cells in classes 0, 1+, 2+, 3+.
    public var her2Percentages: [Double] {
        let scored = nuclei.filter { !$0.touchesBorder }
        guard !scored.isEmpty else { return [0, 0, 0, 0] }
        return ["0", "1+", "2+", "3+"].map { c in 100 * Double(scored.filter { $0.intensityClass == c }.count) / Double(scored.count) }
    }

    public var positiveCount: Int { spec.kind == .ihc ? nuclei.filter(\.isPositive).count : 0 }
    public var positivePercent: Double { nuclei.isEmpty ? 0 : 100 * Double(positiveCount) / Double(nuclei.count) }
}
