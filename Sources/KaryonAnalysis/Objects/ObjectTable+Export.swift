import Foundation
import KaryonImaging

extension ObjectTable {
    /// One CSV row per object: `id`, centroid (`x`, `y` in px; `x_um`, `y_um` when the pixel
    /// size is known), every measurement in column order, and `class` when classified. The header
    /// carries units in brackets (`nucleus_area [µm²]`).
    public var csv: String {
        var out = columns.map { c in csvField(c.unit.map { "\(c.name) [\($0)]" } ?? c.name) }.joined(separator: ",") + "\n"
        out.reserveCapacity(rows.count * columns.count * 10)
        for row in rows {
            out += row.map { v in
                switch v {
                case .number(let d): JSONText.number(d)
                case .integer(let i): String(i)
                case .text(let s): csvField(s)
                }
            }.joined(separator: ",") + "\n"
        }
        return out
    }

    /// QuPath's colours for its standard classes (`PathClass` defaults), others grey.
    public static func color(ofClass name: String?) -> (UInt8, UInt8, UInt8) {
        switch name {
        case "positive": (200, 50, 50)
        case "negative", "0": (112, 112, 225)
        case "1+": (255, 215, 0)
        case "2+": (225, 150, 50)
        case "3+": (200, 50, 50)
        case nil: (60, 220, 60)
        default: (160, 160, 160)
        }
    }

    /// Overlay colours: QuPath's hues, brighter where QuPath's would vanish on hematoxylin
    /// (negative is cyan rather than blue).
    static func overlayColor(ofClass name: String?) -> (UInt8, UInt8, UInt8) {
        switch name {
        case "negative", "0": (0, 230, 255)
        case "positive", "3+": (255, 30, 30)
        default: color(ofClass: name)
        }
    }

    /// QuPath's name for a class: `Positive`/`Negative` capitalised, intensity classes as is.
    static func qupathName(_ name: String) -> String {
        switch name {
        case "positive": "Positive"
        case "negative": "Negative"
        default: name
        }
    }

    /// A GeoJSON FeatureCollection in the form QuPath (0.4 and later) imports: one Feature per
    /// object, `objectType` `cell` with the cell polygon as `geometry` and the nucleus as
    /// `nucleusGeometry` when cells were grown (else `detection` with the nucleus polygon),
    /// `classification` `{name, color}`, and `measurements` as a name → number map. Coordinates
    /// are pixels with (0, 0) the top-left corner of the image; rings run along pixel edges and
    /// are closed.
    public func geoJSON() -> String { String(decoding: geoJSONBytes(), as: UTF8.self) }

    /// ``geoJSON()`` as UTF-8 bytes, written straight into one buffer: a 2048² field has
    /// thousands of objects, hundreds of thousands of outline points and as many measurements.
    public func geoJSONBytes() -> [UInt8] {
        let nucleusOutlines = nuclei.outlines()
        let cellOutlines = cells?.outlines()
        var out = JSONBytes(capacity: count * (columns.count * 28 + 1500))
        func ring(_ p: PixelPolygon) {
            out.append("{\"type\": \"Polygon\", \"coordinates\": [[")
            for i in 0..<p.count {
                out.append(i == 0 ? "[" : ", [")
                out.append(Int(p.x[i]))
                out.append(", ")
                out.append(Int(p.y[i]))
                out.append("]")
            }
            if p.count > 0 {
                out.append(", [")
                out.append(Int(p.x[0]))
                out.append(", ")
                out.append(Int(p.y[0]))
                out.append("]")
            }
            out.append("]]}")
        }
        let measured = columns.indices.filter { columns[$0].name != "id" && columns[$0].name != "class" }
        let keys = columns.map { Array(JSONText.string($0.name).utf8) }  // quoted once
        let objectType = Array(JSONText.string(cellOutlines == nil ? "detection" : "cell").utf8)
        out.append("{\"type\": \"FeatureCollection\", \"features\": [\n")
        for k in 0..<count {
            if k > 0 { out.append(",\n") }
            out.append("{\"type\": \"Feature\", \"geometry\": ")
            if let cellOutlines, cellOutlines[k].count > 0 {
                ring(cellOutlines[k])
                out.append(", \"nucleusGeometry\": ")
                ring(nucleusOutlines[k])
            } else {
                ring(nucleusOutlines[k])
            }
            out.append(", \"properties\": {\"objectType\": ")
            out.append(objectType)
            out.append(", \"name\": \"")
            out.append(k + 1)
            out.append("\", \"isLocked\": false")
            if let classes {
                let (r, g, b) = Self.color(ofClass: classes[k])
                out.append(", \"classification\": {\"name\": ")
                out.append(Array(JSONText.string(Self.qupathName(classes[k])).utf8))
                out.append(", \"color\": [")
                out.append(Int(r))
                out.append(", ")
                out.append(Int(g))
                out.append(", ")
                out.append(Int(b))
                out.append("]}")
            }
            out.append(", \"measurements\": {")
            var first = true
            for c in measured {
                guard let d = rows[k][c].doubleValue else { continue }
                if !first { out.append(", ") }
                first = false
                out.append(keys[c])
                out.append(": ")
                out.append(d)
            }
            out.append("}}}")
        }
        out.append("\n]}\n")
        return out.bytes
    }

    /// The image as 8-bit RGB with the objects' outlines drawn over it: nuclei in their class
    /// colour (``overlayColor(ofClass:)``; green when unclassified), cell boundaries in light grey. An outline pixel is an
    /// object pixel with a 4-neighbour outside that object.
    /// - Throws: ``ImagingError`` when the image size differs from the labels'.
    public func overlay(on image: AnyImage) throws -> Image<UInt8> {
        guard image.width == nuclei.width, image.height == nuclei.height else {
            throw ImagingError(.sizeMismatch, "image \(image.width)×\(image.height) but objects on \(nuclei.width)×\(nuclei.height)")
        }
        let w = image.width, h = image.height, n = w * h
        let float = image.normalizedFloat()
        let c = float.channels, colors = image.colorChannels
        let src = float.contiguous().pixels
        var rgb = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<n {
            for k in 0..<3 {
                let v = src[i * c + (colors == 1 ? 0 : k)]
                rgb[i * 3 + k] = UInt8(max(0, min(255, (v * 255).rounded())))
            }
        }
        func draw(_ labels: LabelImage, _ color: (Int) -> (UInt8, UInt8, UInt8)) {
            let l = labels.labels
            for y in 0..<h {
                for x in 0..<w {
                    let i = y * w + x, v = l[i]
                    guard v != 0 else { continue }
                    let edge = x == 0 || y == 0 || x == w - 1 || y == h - 1
                        || l[i - 1] != v || l[i + 1] != v || l[i - w] != v || l[i + w] != v
                    if edge {
                        let (r, g, b) = color(Int(v))
                        rgb[i * 3] = r
                        rgb[i * 3 + 1] = g
                        rgb[i * 3 + 2] = b
                    }
                }
            }
        }
        if let cells { draw(cells) { _ in (200, 200, 200) } }
        draw(nuclei) { Self.overlayColor(ofClass: classes?[$0 - 1]) }
        return try Image(width: w, height: h, channels: 3, pixels: rgb)
    }
}

extension ObjectTable {
    /// The table back from what a stored result keeps of it: the nucleus labels, the cell labels
    /// when cells were grown, and ``csv``. ``geoJSONBytes()`` of the result is byte for byte the
    /// GeoJSON of the table the extractor returned (outlines come from the labels; measurements
    /// and classes from the CSV, whose numbers are written in Swift's shortest round-trip form),
    /// so results keep the labels and the CSV and the server makes the GeoJSON when it is asked
    /// for — on a 512² field of about 150 nuclei it is three quarters of the objects' bytes.
    ///
    /// Column units come back from the header (`nucleus_area [µm²]`); column help texts and the
    /// distinction between integer and real columns (both are written as numerals) do not.
    /// - Throws: ``ExtractorError`` (`invalidInput`) when the CSV is not one row per label with
    ///   `id` 1…n in order, or its rows are ragged.
    public init(restoringNuclei nuclei: LabelImage, cells: LabelImage?, csv: String, pixelSizeMicrons: Double?) throws {
        func bad(_ message: String) -> ExtractorError { ExtractorError(.invalidInput, "stored object table: \(message)") }
        var records = try Self.csvRecords(csv)
        guard !records.isEmpty else { throw bad("no header") }
        let header = records.removeFirst()
        let columns = header.map { field -> FeatureColumn in
            if field.hasSuffix("]"), let open = field.range(of: " [", options: .backwards) {
                return FeatureColumn(String(field[..<open.lowerBound]), unit: String(field[open.upperBound..<field.index(before: field.endIndex)]), help: "")
            }
            return FeatureColumn(field, help: "")
        }
        let classColumn = columns.firstIndex { $0.name == "class" }
        guard let idColumn = columns.firstIndex(where: { $0.name == "id" }) else { throw bad("no id column") }
        guard records.count == nuclei.count else { throw bad("\(records.count) rows for \(nuclei.count) labels") }
        if let cells, cells.width != nuclei.width || cells.height != nuclei.height { throw bad("cell labels differ in size") }
        var rows: [[FeatureValue]] = []
        rows.reserveCapacity(records.count)
        for (k, record) in records.enumerated() {
            guard record.count == columns.count else { throw bad("row \(k + 1) has \(record.count) fields for \(columns.count) columns") }
            guard Int(record[idColumn]) == k + 1 else { throw bad("row \(k + 1) has id '\(record[idColumn].prefix(20))'") }
            rows.append(record.enumerated().map { c, field in
                if c == classColumn { return .text(field) }
                if let i = Int(field) { return .integer(i) }
                if let d = Double(field), d.isFinite { return .number(d) }
                return .text(field)
            })
        }
        self.init(nuclei: nuclei, cells: cells, columns: columns, rows: rows, classes: classColumn.map { c in rows.map { $0[c].description } },
                  pixelSizeMicrons: pixelSizeMicrons)
    }

    /// RFC 4180 records as ``csvField(_:)`` writes them: fields split at commas, quoted fields
    /// (with `""` for a quote) may hold commas and line breaks, records end at LF; a final empty
    /// line is not a record.
    static func csvRecords(_ text: String) throws -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        var quoted = false, wasQuoted = false
        let bytes = Array(text.utf8)
        var i = 0
        func endField() { record.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true); wasQuoted = false }
        while i < bytes.count {
            let b = bytes[i]
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") { field.append(b); i += 1 } else { quoted = false }
                } else {
                    field.append(b)
                }
            } else if b == UInt8(ascii: "\"") {
                guard field.isEmpty, !wasQuoted else { throw ExtractorError(.invalidInput, "stored object table: a quote inside an unquoted field") }
                quoted = true
                wasQuoted = true
            } else if b == UInt8(ascii: ",") {
                endField()
            } else if b == UInt8(ascii: "\n") {
                endField()
                records.append(record)
                record.removeAll(keepingCapacity: true)
            } else {
                field.append(b)
            }
            i += 1
        }
        guard !quoted else { throw ExtractorError(.invalidInput, "stored object table: a quoted field runs to the end") }
        if !field.isEmpty || !record.isEmpty || wasQuoted {
            endField()
            records.append(record)
        }
        return records
    }
}
