import KaryonImaging

/// The objects an object-detecting extractor found in one image (nuclei and, when cells were
/// grown, their cells), with one row of measurements per object.
///
/// Object k (1-based) is label k in ``nuclei`` and in ``cells``, and row k − 1 of ``rows``.
public struct ObjectTable: Sendable, Equatable {
    /// Nuclei, labelled 1…n.
    public var nuclei: LabelImage
    /// Cells grown from the nuclei (same labels), when the extractor made them.
    public var cells: LabelImage?
    /// Measurement columns, in row order.
    public var columns: [FeatureColumn]
    /// One row per object, values in column order.
    public var rows: [[FeatureValue]]
    /// Classification per object (e.g. `negative`, `1+`), when the extractor classifies.
    public var classes: [String]?
    /// Micrometres per pixel used for the measurements, when known.
    public var pixelSizeMicrons: Double?

    public init(nuclei: LabelImage, cells: LabelImage?, columns: [FeatureColumn], rows: [[FeatureValue]],
                classes: [String]? = nil, pixelSizeMicrons: Double?) {
        self.nuclei = nuclei
        self.cells = cells
        self.columns = columns
        self.rows = rows
        self.classes = classes
        self.pixelSizeMicrons = pixelSizeMicrons
    }

    public var count: Int { rows.count }

    /// Checks the table is consistent: one row per label, every row as long as the columns,
    /// numbers finite, classes one per object.
    /// - Throws: ``ExtractorError`` with code `outputMismatch` (a defect in the extractor).
    func validate(extractor id: String) throws {
        func bad(_ m: String) -> ExtractorError { ExtractorError(.outputMismatch, "\(id) objects: \(m)") }
        guard rows.count == nuclei.count else { throw bad("\(rows.count) rows for \(nuclei.count) labels") }
        if let cells, cells.width != nuclei.width || cells.height != nuclei.height { throw bad("cell labels differ in size") }
        if let classes, classes.count != rows.count { throw bad("\(classes.count) classes for \(rows.count) objects") }
        for (k, row) in rows.enumerated() {
            guard row.count == columns.count else { throw bad("row \(k + 1) has \(row.count) values for \(columns.count) columns") }
            for (column, value) in zip(columns, row) {
                if case .number(let v) = value, !v.isFinite { throw bad("non-finite \(column.name) for object \(k + 1)") }
            }
        }
    }
}

/// What an extractor returns: image-level features and, for object detectors, the objects.
public struct ExtractionOutput: Sendable {
    public var features: FeatureVector
    public var objects: ObjectTable?

    public init(features: FeatureVector, objects: ObjectTable? = nil) {
        self.features = features
        self.objects = objects
    }
}
