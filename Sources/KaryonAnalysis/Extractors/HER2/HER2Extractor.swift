import Foundation
import KaryonImaging

/// HER2/neu membrane scoring in H-DAB brightfield by the ASCO/CAP 2018 rules.
///
/// Nuclei are detected on hematoxylin and cells grown from them (`cell_expansion`, 5 µm), as by
/// `nuclei`. Per cell, the membrane is followed through the cytoplasm (cell minus nucleus): the
/// DAB OD, smoothed with `membrane_sigma`, is split into `sectors` equal angular sectors about the
/// nucleus centroid, and each sector's maximum is its membrane intensity (so the membrane is found
/// wherever it runs inside the cell, not only on the expansion's outline).
/// - `membrane_completeness`: fraction of sectors whose intensity ≥ `membrane_threshold`;
/// - `membrane_intensity`: mean intensity of those stained sectors (0 when none);
/// - `membrane_od`: mean intensity over all sectors.
///
/// Cell class: complete (completeness ≥ `complete_fraction`) and intense (intensity ≥
/// `intense_od`) → `3+`; complete → `2+`; stained on at least `min_fraction` of the membrane →
/// `1+` (incomplete staining of any intensity); else `0`. Cells reaching the image edge show only
/// part of their membrane: they are classed `border` and not scored (`exclude_border`).
/// Slide `score` (ASCO/CAP 2018): `3+` when > 10% of scored cells are 3+; else `2+` when > 10%
/// are complete (2+ or 3+); else `1+` when > 10% are 1+ or more; else `0`. `pct_complete` is the
/// percentage of scored cells with a complete membrane; `mean_membrane_od` the mean of
/// `membrane_od` over scored cells.
public struct HER2Extractor: Extractor {
    public static let detectsObjects = true

    public static let descriptor = ExtractorDescriptor(
        id: "her2",
        version: "1.0.0",
        summary: "HER2/neu membrane score (ASCO/CAP 2018): per-cell membrane completeness and DAB intensity, class 0/1+/2+/3+, slide score",
        references: [
            "A. C. Wolff et al., Human epidermal growth factor receptor 2 testing in breast cancer: ASCO/CAP clinical practice guideline focused update, J. Clin. Oncol. 36(20):2105–2122 (2018), doi:10.1200/JCO.2018.77.8738",
            "M. Hall et al., A novel approach for HER2 IHC scoring: automated cell membrane detection and quantification, BMC Med. Imaging 8:11 (2008), doi:10.1186/1471-2342-8-11",
            "P. Bankhead et al., QuPath: Open source software for digital pathology image analysis, Sci. Rep. 7:16878 (2017), doi:10.1038/s41598-017-17204-5",
        ],
        parameters: NucleusParameters.specs(detection: "hematoxylin", cellExpansion: 5, modes: false) + [
            ParameterSpec("membrane_sigma", .number, default: .number(0), minimum: 0, maximum: 10, unit: "µm",
                          help: "Gaussian σ applied to DAB OD before the membrane is measured (0 = none: thin membranes lose their peak when smoothed)"),
            ParameterSpec("membrane_threshold", .number, default: .number(0.1), minimum: 0, maximum: 5, unit: "OD",
                          help: "DAB OD at or above which a membrane sector counts as stained"),
            ParameterSpec("intense_od", .number, default: .number(0.6), minimum: 0, maximum: 5, unit: "OD",
                          help: "mean stained-sector DAB OD at or above which a complete membrane is 3+ (else 2+)"),
            ParameterSpec("complete_fraction", .number, default: .number(0.9), minimum: 0, maximum: 1,
                          help: "fraction of the membrane that must be stained for it to be complete"),
            ParameterSpec("min_fraction", .number, default: .number(0.1), minimum: 0, maximum: 1,
                          help: "fraction of the membrane that must be stained for 1+"),
            ParameterSpec("sectors", .integer, default: .integer(36), minimum: 4, maximum: 360,
                          help: "angular sectors per cell"),
            ParameterSpec("exclude_border", .boolean, default: .boolean(true),
                          help: "do not score cells that reach the image edge"),
        ],
        determinism: .bitExact)

    let settings: NucleusPipelineSettings
    let membraneSigma: Double, membraneThreshold: Double, intense: Double
    let completeFraction: Double, minFraction: Double
    let sectors: Int
    let excludeBorder: Bool

    public init(parameters p: ParameterSet) throws {
        let id = Self.descriptor.id
        settings = try NucleusPipelineSettings(p, extractor: id)
        guard settings.stainIndex("dab") != nil else {
            throw ExtractorError(.invalidParameter, "\(id): stains=\(p.text("stains")) has no DAB; use h-dab or hdx")
        }
        guard settings.cellExpansion > 0 else {
            throw ExtractorError(.invalidParameter, "\(id): the membrane is found inside cells; set cell_expansion > 0")
        }
        membraneSigma = p.number("membrane_sigma")
        membraneThreshold = p.number("membrane_threshold")
        intense = p.number("intense_od")
        completeFraction = p.number("complete_fraction")
        minFraction = p.number("min_fraction")
        guard minFraction <= completeFraction else {
            throw ExtractorError(.invalidParameter, "\(id): min_fraction (\(minFraction)) must not exceed complete_fraction (\(completeFraction))")
        }
        sectors = p.integer("sectors")
        excludeBorder = p.boolean("exclude_border")
    }

    public func columns(for layout: InputLayout) -> [FeatureColumn] {
        [
            FeatureColumn("cells", .integer, help: "cells scored"),
            FeatureColumn("border_cells", .integer, help: "cells reaching the image edge, not scored"),
            FeatureColumn("score", .text, help: "ASCO/CAP 2018 slide score: 0, 1+, 2+ or 3+"),
            FeatureColumn("pct_0", unit: "%", help: "scored cells without membrane staining (class 0)"),
            FeatureColumn("pct_1plus", unit: "%", help: "scored cells with incomplete membrane staining (1+)"),
            FeatureColumn("pct_2plus", unit: "%", help: "scored cells with complete, weak-to-moderate staining (2+)"),
            FeatureColumn("pct_3plus", unit: "%", help: "scored cells with complete, intense staining (3+)"),
            FeatureColumn("pct_complete", unit: "%", help: "scored cells with a complete membrane (2+ or 3+)"),
            FeatureColumn("mean_membrane_od", unit: "OD", help: "mean over scored cells of their membrane DAB OD"),
        ]
    }

    /// ASCO/CAP 2018 slide score from the percentages of cells in classes 0, 1+, 2+, 3+: 3+ when
    /// more than 10% are 3+; else 2+ when more than 10% are complete (2+ or 3+); else 1+ when more
    /// than 10% show any membrane staining; else 0.
    public static func slideScore(percentages p: [Double]) -> String {
        if p[3] > 10 { return "3+" }
        if p[2] + p[3] > 10 { return "2+" }
        if p[1] + p[2] + p[3] > 10 { return "1+" }
        return "0"
    }

    public func extract(_ input: ExtractionInput) throws -> FeatureVector {
        try analyze(input).features
    }

    /// Per-cell membrane measurements and class (`border`, `0`, `1+`, `2+`, `3+`).
    struct Membrane {
        var completeness: [Double], intensity: [Double], od: [Double]
        var classes: [String]
    }

    func membranes(_ analysis: NucleusAnalysis) throws -> Membrane {
        let n = analysis.count
        guard let cells = analysis.cells else { preconditionFailure("her2 always grows cells") }
        let w = cells.width, h = cells.height
        var dab = try analysis.stainPlane(1)
        let sigma = membraneSigma / (analysis.pixelSize ?? 1)
        if sigma >= 0.3 { dab = try gaussianBlur(dab, sigma: sigma) }
        let od = dab.pixels
        let cx = analysis.column("x"), cy = analysis.column("y")
        var best = [Float](repeating: -.infinity, count: (n + 1) * sectors)
        var border = [Bool](repeating: false, count: n + 1)
        let cellLabels = cells.labels, nucleusLabels = analysis.nuclei.labels
        let perRadian = Double(sectors) / (2 * .pi)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x, l = Int(cellLabels[i])
                guard l != 0 else { continue }
                if x == 0 || y == 0 || x == w - 1 || y == h - 1 { border[l] = true }
                guard nucleusLabels[i] == 0 else { continue }
                var angle = atan2(Double(y) - cy[l - 1], Double(x) - cx[l - 1])
                if angle < 0 { angle += 2 * .pi }
                let s = min(sectors - 1, Int(angle * perRadian))
                best[l * sectors + s] = max(best[l * sectors + s], od[i])
            }
        }
        var m = Membrane(completeness: [], intensity: [], od: [], classes: [])
        for l in stride(from: 1, through: n, by: 1) {
            var present = 0, stained = 0
            var sum = 0.0, stainedSum = 0.0
            for s in 0..<sectors {
                let v = best[l * sectors + s]
                guard v > -.infinity else { continue }
                present += 1
                sum += Double(v)
                if Double(v) >= membraneThreshold { stained += 1; stainedSum += Double(v) }
            }
            let completeness = present == 0 ? 0 : Double(stained) / Double(present)
            let intensity = stained == 0 ? 0 : stainedSum / Double(stained)
            m.completeness.append(completeness)
            m.intensity.append(intensity)
            m.od.append(present == 0 ? 0 : sum / Double(present))
            let klass: String
            if excludeBorder && border[l] {
                klass = "border"
            } else if present > 0 && completeness >= completeFraction {
                klass = intensity >= intense ? "3+" : "2+"
            } else if present > 0 && stained > 0 && completeness >= minFraction {
                klass = "1+"
            } else {
                klass = "0"
            }
            m.classes.append(klass)
        }
        return m
    }

    public func analyze(_ input: ExtractionInput) throws -> ExtractionOutput {
        let analysis = try NucleusAnalysis.of(input, settings: settings, extractor: Self.descriptor.id)
        let m = try membranes(analysis)
        let scored = m.classes.indices.filter { m.classes[$0] != "border" }
        let pct = ["0", "1+", "2+", "3+"].map { c in
            scored.isEmpty ? 0 : 100 * Double(scored.filter { m.classes[$0] == c }.count) / Double(scored.count)
        }
        var out = FeatureVector()
        out.append("cells", .integer(scored.count))
        out.append("border_cells", .integer(m.classes.count - scored.count))
        out.append("score", .text(Self.slideScore(percentages: pct)))
        out.append("pct_0", pct[0])
        out.append("pct_1plus", pct[1])
        out.append("pct_2plus", pct[2])
        out.append("pct_3plus", pct[3])
        out.append("pct_complete", pct[2] + pct[3])
        out.append("mean_membrane_od", scored.isEmpty ? 0 : scored.map { m.od[$0] }.reduce(0, +) / Double(scored.count))
        let extra: [(FeatureColumn, [Double])] = [
            (FeatureColumn("membrane_completeness", help: "fraction of membrane sectors stained"), m.completeness),
            (FeatureColumn("membrane_intensity", unit: "OD", help: "mean DAB OD of the stained sectors"), m.intensity),
            (FeatureColumn("membrane_od", unit: "OD", help: "mean DAB OD over all membrane sectors"), m.od),
        ]
        return ExtractionOutput(features: out, objects: analysis.objectTable(extra: extra, classes: m.classes))
    }
}
