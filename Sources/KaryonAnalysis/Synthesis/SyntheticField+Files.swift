import Foundation
import KaryonImaging

extension SyntheticField {
    /// File names written by ``write(to:stem:)``.
    public struct Files: Sendable {
        public var image: String
        public var labels: String
        public var nuclei: String
        public var truth: String
        /// `her2`: the 16-bit cell labels.
        public var cells: String?
    }

    /// Field-level truth as written to `<stem>-truth.json`.
    public struct Summary: Codable, Sendable, Equatable {
        public var kind: String
        public var seed: UInt64
        public var width: Int
        public var height: Int
        public var pixelSizeUm: Double
        public var nuclei: Int
        public var positive: Int
        public var positivePercent: Double
        public var stainVectors: [String: [Double]]
        /// `her2`: the ASCO/CAP slide score and the percentages of scored cells per class.
        public var her2Score: String?
        public var her2Percent: [String: Double]?
        /// `her2`: cells not touching the image edge (the scored ones).
        public var scoredCells: Int?

        enum CodingKeys: String, CodingKey {
            case kind, seed, width, height, nuclei, positive
            case her2Score = "her2_score"
            case her2Percent = "her2_percent"
            case scoredCells = "scored_cells"
            case pixelSizeUm = "pixel_size_um"
            case positivePercent = "positive_percent"
            case stainVectors = "stain_vectors"
        }
    }

    public var summary: Summary {
        Summary(
            kind: spec.kind.rawValue, seed: spec.seed, width: spec.width, height: spec.height,
            pixelSizeUm: spec.pixelSizeMicrons, nuclei: nuclei.count, positive: positiveCount,
            positivePercent: positivePercent,
            stainVectors: [
                "hematoxylin": [FieldSynthesizer.hematoxylin.r, FieldSynthesizer.hematoxylin.g, FieldSynthesizer.hematoxylin.b],
                "dab": [FieldSynthesizer.dab.r, FieldSynthesizer.dab.g, FieldSynthesizer.dab.b],
            ],
            her2Score: her2Score,
            her2Percent: her2Score == nil ? nil : Dictionary(uniqueKeysWithValues: zip(["0", "1+", "2+", "3+"], her2Percentages)),
            scoredCells: her2Score == nil ? nil : nuclei.filter { !$0.touchesBorder }.count)
    }

    /// Per-nucleus truth as CSV: id, centroid (px and µm), area (px and µm²), designed OD, class.
    public var nucleiCSV: String {
        let px = spec.pixelSizeMicrons
        var out = "id,centroid_x_px,centroid_y_px,centroid_x_um,centroid_y_um,area_px,area_um2,hematoxylin_od,dab_od,class,positive,"
            + "membrane_completeness,membrane_od,touches_border\n"
        for n in nuclei {
            let fields: [String] = [
                String(n.id), fmt(n.centroidX), fmt(n.centroidY), fmt(n.centroidX * px), fmt(n.centroidY * px),
                String(n.areaPixels), fmt(Double(n.areaPixels) * px * px), fmt(n.hematoxylinOD), fmt(n.dabOD),
                n.intensityClass, spec.kind == .ihc && n.isPositive ? "1" : "0",
                fmt(n.membraneCompleteness), fmt(n.membraneOD), n.touchesBorder ? "1" : "0",
            ]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    /// Writes `<stem>.png` (RGB, or gray for fluorescence), `<stem>-labels.png` (16-bit instance labels, 0 = background),
    /// `<stem>-nuclei.csv`, `<stem>-truth.json` and for HER2 `<stem>-cells.png` into `directory`, creating it if needed.
    @discardableResult
    public func write(to directory: String, stem: String) throws -> Files {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = (directory as NSString).appendingPathComponent(stem)
        let files = Files(image: base + ".png", labels: base + "-labels.png", nuclei: base + "-nuclei.csv", truth: base + "-truth.json",
                          cells: cells == nil ? nil : base + "-cells.png")
        try ImageCodec.write(.uint8(image), to: files.image, pixelSizeMicrons: spec.pixelSizeMicrons)
        if let cells, let path = files.cells { try ImageCodec.write(.uint16(cells), to: path, pixelSizeMicrons: spec.pixelSizeMicrons) }
        try ImageCodec.write(.uint16(labels), to: files.labels, pixelSizeMicrons: spec.pixelSizeMicrons)
        try AtomicFile.write(Array(nucleiCSV.utf8), to: files.nuclei)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(summary)) + [0x0A], to: files.truth)
        return files
    }
}

private func fmt(_ v: Double) -> String { String(format: "%.4f", v) }
