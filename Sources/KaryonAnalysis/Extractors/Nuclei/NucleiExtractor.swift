import Foundation
import KaryonImaging

/// Nucleus detection and measurement in brightfield (H-DAB, H&E) and fluorescence images, with
/// QuPath "Cell detection" defaults and every size in µm.
///
/// Detection (see ``NucleusDetector``): the detection image (hematoxylin OD, OD sum,
/// hematoxylin + DAB, or a fluorescence channel on 0–1), background subtraction by opening by
/// reconstruction, Gaussian smoothing, a threshold, holes filled, touching nuclei split by a
/// distance-transform watershed, boundaries smoothed, area limits; optional cells grown from the
/// nuclei. Per-object measurements (``NucleusAnalysis``) come with the objects
/// (`karyon analyze --objects/--geojson/--labels/--overlay`).
///
/// Image-level columns: `units` (`um` when the pixel size is known, else `px`: then every size
/// is in pixels and `density` is per 10⁶ px²), `count`, `analyzed_area` (the mask's area, or the
/// image's), `density` (nuclei per mm²), and `_mean`, `_median`, `_std` (population) of the main
/// measurements over the nuclei — 0 when there are none.
public struct NucleiExtractor: Extractor {
    public static let detectsObjects = true

    public static let descriptor = ExtractorDescriptor(
        id: "nuclei",
        version: "1.0.0",
        summary: "Nuclei (and cells) detected and measured: count, density, shape and stain OD per nucleus, in µm",
        references: [
            "P. Bankhead et al., QuPath: Open source software for digital pathology image analysis, Sci. Rep. 7:16878 (2017), doi:10.1038/s41598-017-17204-5",
            "A. C. Ruifrok, D. A. Johnston, Quantification of histochemical staining by color deconvolution, Anal. Quant. Cytol. Histol. 23(4):291–299 (2001)",
            "L. Vincent, Morphological grayscale reconstruction in image analysis, IEEE Trans. Image Process. 2(2):176–201 (1993), doi:10.1109/83.217222",
            "N. Malpica et al., Applying watershed algorithms to the segmentation of clustered nuclei, Cytometry 28(4):289–297 (1997)",
        ],
        parameters: NucleusParameters.specs(detection: "hematoxylin", cellExpansion: 5, modes: true),
        determinism: .bitExact)

    let settings: NucleusPipelineSettings

    public init(parameters: ParameterSet) throws {
        settings = try NucleusPipelineSettings(parameters, extractor: Self.descriptor.id)
    }

    /// The measurements summarised over nuclei.
    func summarized(colorChannels: Int) -> [String] {
        var names = ["nucleus_area", "nucleus_circularity"]
        switch settings.mode {
        case .brightfield:
            names += ["nucleus_brightness"] + settings.channelNames(colorChannels: 3).map { "nucleus_\($0)_od_mean" }
        case .fluorescence:
            names += settings.channelNames(colorChannels: colorChannels).map { "nucleus_\($0)_mean" }
        }
        if settings.cellExpansion > 0 { names.append("cell_area") }
        return names
    }

    public func columns(for layout: InputLayout) -> [FeatureColumn] {
        var columns = [
            FeatureColumn("units", .text, help: "um: sizes in µm and density per mm²; px: the pixel size was unknown, sizes in pixels and density per 10⁶ px²"),
            FeatureColumn("count", .integer, help: "nuclei detected"),
            FeatureColumn("analyzed_area", help: "area analysed (µm² or px²)"),
            FeatureColumn("density", help: "nuclei per mm² (per 10⁶ px² when units = px)"),
        ]
        for m in summarized(colorChannels: layout.colorChannels) {
            columns += ["mean", "median", "std"].map { FeatureColumn("\(m)_\($0)", help: "\($0) of \(m) over the nuclei") }
        }
        return columns
    }

    public func extract(_ input: ExtractionInput) throws -> FeatureVector {
        try analyze(input).features
    }

    public func analyze(_ input: ExtractionInput) throws -> ExtractionOutput {
        let analysis = try NucleusAnalysis.of(input, settings: settings, extractor: Self.descriptor.id)
        var out = FeatureVector()
        let units = input.pixelSizeMicrons == nil ? "px" : "um"
        out.append("units", .text(units))
        out.append("count", .integer(analysis.count))
        let area = Double(analysis.analyzedPixels) * analysis.pixelArea
        out.append("analyzed_area", area)
        out.append("density", Double(analysis.count) / area * 1e6)
        for m in summarized(colorChannels: input.image.colorChannels) {
            let s = SummaryStatistics(analysis.column(m))
            out.append("\(m)_mean", s.mean)
            out.append("\(m)_median", s.median)
            out.append("\(m)_std", s.std)
        }
        return ExtractionOutput(features: out, objects: analysis.objectTable())
    }
}

/// Mean, median and population standard deviation; all 0 for no values.
struct SummaryStatistics {
    var mean = 0.0, median = 0.0, std = 0.0

    init(_ values: [Double]) {
        guard !values.isEmpty else { return }
        let n = Double(values.count)
        mean = values.reduce(0, +) / n
        std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        let sorted = values.sorted()
        let k = sorted.count
        median = k % 2 == 1 ? sorted[k / 2] : (sorted[k / 2 - 1] + sorted[k / 2]) / 2
    }
}
