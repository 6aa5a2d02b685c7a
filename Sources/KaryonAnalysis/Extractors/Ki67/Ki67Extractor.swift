import KaryonImaging

/// Ki-67 (or any nuclear IHC marker) scoring in H-DAB brightfield: nuclei are detected as by
/// `nuclei`, each is classified by a DAB measurement, and the field is summarised as a labelling
/// index, H-score and Allred score.
///
/// - Detection defaults to `hematoxylin+dab` (the sum of both stains' OD), so nuclei so
///   DAB-dark that little hematoxylin shows through are still found — detection on hematoxylin
///   alone misses them (QuPath issue 46); `detection=hematoxylin` gives QuPath's behaviour.
/// - Score measurement: `<compartment>: DAB OD <statistic>`, by default "Nucleus: DAB OD mean".
///   Intensity classes by the thresholds 1+ ≥ 0.2, 2+ ≥ 0.4, 3+ ≥ 0.6 OD (QuPath's defaults);
///   with `single_threshold` (the default) objects are `positive` (≥ the 1+ threshold) or
///   `negative`, otherwise `negative`, `1+`, `2+`, `3+`.
/// - `positive_percent` = positive / cells · 100 (any intensity counts, Dowsett et al. 2011);
///   `h_score` = 1·%1+ + 2·%2+ + 3·%3+ (0–300); `allred` = proportion score (0: none, 1: < 1%,
///   2: 1–10%, 3: 10–33%, 4: 33–67%, 5: > 67%) + intensity score (1/2/3 for the class of the mean
///   score measurement of the positive nuclei), 0 when nothing is positive;
///   `positive_area_percent` = nuclear pixels with DAB OD ≥ the 1+ threshold / all nuclear
///   pixels · 100 (ImmunoRatio's area index).
/// - Fewer than `min_cells` (500, as the International Ki67 Working Group asks) scored cells set
///   `low_count` = 1 and a `caveat` text; the numbers are still reported.
///
/// With a mask (e.g. the invasive tumour region) only nuclei whose centroid lies inside count.
public struct Ki67Extractor: Extractor {
    public static let detectsObjects = true

    public static let descriptor = ExtractorDescriptor(
        id: "ki67",
        version: "1.0.0",
        summary: "Ki-67 labelling index: positive/negative nuclei by DAB OD, 1+/2+/3+, H-score, Allred, positive nuclear area",
        references: [
            "M. Dowsett et al., Assessment of Ki67 in breast cancer: recommendations from the International Ki67 in Breast Cancer Working Group, J. Natl. Cancer Inst. 103(22):1656–1664 (2011), doi:10.1093/jnci/djr393",
            "P. Bankhead et al., QuPath: Open source software for digital pathology image analysis, Sci. Rep. 7:16878 (2017), doi:10.1038/s41598-017-17204-5",
            "V. J. Tuominen et al., ImmunoRatio: a publicly available web application for quantitative image analysis of estrogen receptor (ER), progesterone receptor (PR), and Ki-67, Breast Cancer Res. 12:R56 (2010), doi:10.1186/bcr2615",
            "D. C. Allred et al., Prognostic and predictive factors in breast cancer by immunohistochemical analysis, Mod. Pathol. 11(2):155–168 (1998)",
        ],
        parameters: NucleusParameters.specs(detection: "hematoxylin+dab", cellExpansion: 5, modes: false) + [
            ParameterSpec("compartment", .choice(["nucleus", "cell", "cytoplasm"]), default: .text("nucleus"),
                          help: "where the DAB score is measured (cell and cytoplasm need cell_expansion > 0)"),
            ParameterSpec("statistic", .choice(["mean", "max"]), default: .text("mean"),
                          help: "DAB OD statistic over the compartment"),
            ParameterSpec("threshold_1plus", .number, default: .number(0.2), minimum: 0, maximum: 5, unit: "OD",
                          help: "DAB OD at or above which a nucleus is positive (1+)"),
            ParameterSpec("threshold_2plus", .number, default: .number(0.4), minimum: 0, maximum: 5, unit: "OD",
                          help: "DAB OD for 2+"),
            ParameterSpec("threshold_3plus", .number, default: .number(0.6), minimum: 0, maximum: 5, unit: "OD",
                          help: "DAB OD for 3+"),
            ParameterSpec("single_threshold", .boolean, default: .boolean(true),
                          help: "classify objects as positive/negative only (counts of 1+/2+/3+ are reported either way)"),
            ParameterSpec("min_cells", .integer, default: .integer(500), minimum: 0, maximum: 1_000_000,
                          help: "fewer scored cells than this set low_count and the caveat"),
        ],
        determinism: .bitExact)

    let settings: NucleusPipelineSettings
    let measurement: String
    let thresholds: (Double, Double, Double)
    let singleThreshold: Bool
    let minCells: Int

    public init(parameters p: ParameterSet) throws {
        let id = Self.descriptor.id
        settings = try NucleusPipelineSettings(p, extractor: id)
        guard settings.stainIndex("dab") != nil else {
            throw ExtractorError(.invalidParameter, "\(id): stains=\(p.text("stains")) has no DAB; use h-dab or hdx")
        }
        let compartment = p.text("compartment")
        if compartment != "nucleus" && settings.cellExpansion == 0 {
            throw ExtractorError(.invalidParameter, "\(id): compartment=\(compartment) needs cell_expansion > 0")
        }
        measurement = "\(compartment)_dab_od_\(p.text("statistic"))"
        thresholds = (p.number("threshold_1plus"), p.number("threshold_2plus"), p.number("threshold_3plus"))
        guard thresholds.0 <= thresholds.1, thresholds.1 <= thresholds.2 else {
            throw ExtractorError(.invalidParameter, "\(id): thresholds must rise: 1+ ≤ 2+ ≤ 3+, got \(thresholds)")
        }
        singleThreshold = p.boolean("single_threshold")
        minCells = p.integer("min_cells")
    }

    public func columns(for layout: InputLayout) -> [FeatureColumn] {
        [
            FeatureColumn("cells", .integer, help: "nuclei scored"),
            FeatureColumn("positive", .integer, help: "nuclei at or above the 1+ threshold"),
            FeatureColumn("negative", .integer, help: "nuclei below it"),
            FeatureColumn("positive_percent", unit: "%", help: "Ki-67 labelling index: positive / cells · 100"),
            FeatureColumn("n_1plus", .integer, help: "nuclei in [1+, 2+)"),
            FeatureColumn("n_2plus", .integer, help: "nuclei in [2+, 3+)"),
            FeatureColumn("n_3plus", .integer, help: "nuclei ≥ 3+"),
            FeatureColumn("h_score", help: "1·%1+ + 2·%2+ + 3·%3+ (0–300)"),
            FeatureColumn("allred_proportion", .integer, help: "Allred proportion score 0–5"),
            FeatureColumn("allred_intensity", .integer, help: "Allred intensity score 0–3 (class of the positive nuclei's mean)"),
            FeatureColumn("allred", .integer, help: "Allred total: proportion + intensity (0 or 2–8)"),
            FeatureColumn("positive_area_percent", unit: "%", help: "nuclear pixels with DAB OD ≥ the 1+ threshold / nuclear pixels · 100 (ImmunoRatio)"),
            FeatureColumn("low_count", .integer, help: "1 when fewer than min_cells nuclei were scored"),
            FeatureColumn("caveat", .text, help: "why the index is less reliable, or empty"),
        ]
    }

    public func extract(_ input: ExtractionInput) throws -> FeatureVector {
        try analyze(input).features
    }

    /// 0 negative, 1, 2, 3 for the intensity class of a DAB value.
    func intensityClass(_ v: Double) -> Int {
        v >= thresholds.2 ? 3 : v >= thresholds.1 ? 2 : v >= thresholds.0 ? 1 : 0
    }

    public func analyze(_ input: ExtractionInput) throws -> ExtractionOutput {
        let analysis = try NucleusAnalysis.of(input, settings: settings, extractor: Self.descriptor.id)
        let scores = analysis.column(measurement)
        let classes = scores.map(intensityClass)
        var n = [0, 0, 0, 0]
        for c in classes { n[c] += 1 }
        let cells = classes.count, positive = cells - n[0]
        let pct = { (k: Int) in cells == 0 ? 0 : 100 * Double(k) / Double(cells) }
        let positivePercent = pct(positive)
        let proportion: Int = switch positivePercent {
        case 0: 0
        case ..<1: 1
        case ...10: 2
        case ...(100.0 / 3): 3
        case ...(200.0 / 3): 4
        default: 5
        }
        let positiveScores = zip(scores, classes).filter { $0.1 > 0 }.map(\.0)
        let intensity = positiveScores.isEmpty ? 0 : max(1, intensityClass(positiveScores.reduce(0, +) / Double(positiveScores.count)))
        // ImmunoRatio-style area index over the nuclei's pixels.
        var nuclearPixels = 0, positivePixels = 0
        let cut = Float(thresholds.0), dab = analysis.stainChannel(1), stride = analysis.channels.channels
        analysis.channels.withUnsafeSamples { samples in
            analysis.nuclei.labels.withUnsafeBufferPointer { labels in
                for i in 0..<labels.count where labels[i] != 0 {
                    nuclearPixels += 1
                    if samples[i * stride + dab] >= cut { positivePixels += 1 }
                }
            }
        }
        var out = FeatureVector()
        out.append("cells", .integer(cells))
        out.append("positive", .integer(positive))
        out.append("negative", .integer(n[0]))
        out.append("positive_percent", positivePercent)
        out.append("n_1plus", .integer(n[1]))
        out.append("n_2plus", .integer(n[2]))
        out.append("n_3plus", .integer(n[3]))
        out.append("h_score", pct(n[1]) + 2 * pct(n[2]) + 3 * pct(n[3]))
        out.append("allred_proportion", .integer(proportion))
        out.append("allred_intensity", .integer(proportion == 0 ? 0 : intensity))
        out.append("allred", .integer(proportion == 0 ? 0 : proportion + intensity))
        out.append("positive_area_percent", nuclearPixels == 0 ? 0 : 100 * Double(positivePixels) / Double(nuclearPixels))
        let low = cells < minCells
        out.append("low_count", .integer(low ? 1 : 0))
        out.append("caveat", .text(low ? "only \(cells) cells scored; at least \(minCells) are needed for a reliable index (IKWG)" : ""))
        let names = singleThreshold ? classes.map { $0 > 0 ? "positive" : "negative" } : classes.map { ["negative", "1+", "2+", "3+"][$0] }
        return ExtractionOutput(features: out, objects: analysis.objectTable(classes: names))
    }
}
