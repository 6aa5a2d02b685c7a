import KaryonImaging

/// Nuclei (and cells) detected in one image with their per-object measurements, shared by the
/// `nuclei`, `ki67` and `her2` extractors.
///
/// Measurements per object, in µm / µm² when the pixel size is known, else px / px²:
/// - centroid `x`, `y` (px, and µm when known);
/// - nucleus shape: `nucleus_area`, `nucleus_perimeter`, `nucleus_circularity` (4π·area/perimeter²),
///   `nucleus_eccentricity`, `nucleus_major_axis`, `nucleus_minor_axis`, `nucleus_solidity`,
///   `nucleus_max_caliper`, `nucleus_min_caliper` (scikit-image definitions; see ``RegionProperties``);
/// - brightfield intensities: `<compartment>_brightness` (mean luminance 0.2125R + 0.7154G +
///   0.0721B in sample units), `<compartment>_red_mean` …, and per stain
///   `<compartment>_<stain>_od_{mean,sum,std,max,min,range}` (QuPath OD convention: log10, I0 =
///   the type's maximum) — for the nucleus, the cell and the cytoplasm (cell minus nucleus);
/// - fluorescence: `<compartment>_<channel>_{mean,sum,std,max,min,range}` in sample units;
/// - `cell_area`, `cytoplasm_area`, `nucleus_cell_area_ratio` when cells were grown.
///
/// With a mask, only nuclei whose centroid lies inside it are kept.
struct NucleusAnalysis: Sendable {
    var settings: NucleusPipelineSettings
    var pixelSize: Double?
    var nuclei: LabelImage
    var cells: LabelImage?
    /// Measurement columns and their values (column-major: `values[c][object]`).
    var columns: [FeatureColumn] = []
    var values: [[Double]] = []
    /// Stain names (brightfield) or channel names (fluorescence) measured per compartment.
    var channelNames: [String] = []
    /// The per-pixel measurement channels (for pixel-level scores such as the DAB-positive area).
    var channels: Image<Float>
    /// Pixels analysed (the mask's, or the whole image's).
    var analyzedPixels: Int

    var count: Int { nuclei.count }
    var lengthUnit: String { pixelSize == nil ? "px" : "µm" }
    var areaUnit: String { pixelSize == nil ? "px²" : "µm²" }
    /// Square micrometres (or pixels) per pixel.
    var pixelArea: Double { (pixelSize ?? 1) * (pixelSize ?? 1) }

    /// Brightfield: the OD plane of measured stain `k` (0 = hematoxylin, 1 = DAB or the second
    /// stain), as ``BrightfieldPlanes`` lays out ``channels`` (red, green, blue, brightness, stains).
    func stainPlane(_ k: Int) throws -> Image<Float> {
        try channels.channel(stainChannel(k))
    }

    /// Brightfield: the channel of ``channels`` that holds measured stain `k`'s OD.
    func stainChannel(_ k: Int) -> Int {
        precondition(settings.mode == .brightfield && (0...1).contains(k), "stain planes exist in brightfield only")
        return 4 + k
    }

    /// The values of one measurement column.
    func column(_ name: String) -> [Double] {
        guard let c = columns.firstIndex(where: { $0.name == name }) else {
            preconditionFailure("no measurement column \(name)")
        }
        return values[c]
    }

    /// The analysis of `input` with `settings`: computed once per input and settings when the
    /// input carries ``SharedWork`` (several extractors of one image asking for the same
    /// segmentation), otherwise here.
    static func of(_ input: ExtractionInput, settings: NucleusPipelineSettings, extractor: String) throws -> NucleusAnalysis {
        guard let shared = input.shared else { return try NucleusAnalysis(input, settings: settings, extractor: extractor) }
        return try shared.value(for: settings) { try NucleusAnalysis(input, settings: settings, extractor: extractor) }
    }

    /// Detects and measures.
    /// - Throws: ``ExtractorError`` for images the settings cannot analyse (gray input to a
    ///   brightfield stain extractor, implausible pixel sizes).
    init(_ input: ExtractionInput, settings: NucleusPipelineSettings, extractor: String) throws {
        self.settings = settings
        pixelSize = input.pixelSizeMicrons
        let mask = try input.maskSamples(extractor)
        var detector = try settings.detector(pixelSize: pixelSize, extractor: extractor)
        // Cells are grown here, beside the nuclei's shape measurements.
        let expansion = detector.cellExpansion
        detector.cellExpansion = 0
        let image = input.image
        let prepared: Planes
        switch settings.mode {
        case .brightfield:
            guard image.colorChannels == 3 else {
                throw ExtractorError(
                    .invalidInput,
                    "\(extractor): brightfield stain separation needs an RGB image; this one is gray (for fluorescence use mode=fluorescence)")
            }
            var used = settings
            if settings.estimateStains {
                guard case .uint8(let rgb) = image else {
                    throw ExtractorError(.invalidInput, "\(extractor): Macenko stain estimation needs an 8-bit RGB image; use a stain preset")
                }
                do {
                    let estimate = try estimateStainsMacenko(rgb, mask: input.mask)
                    used.stains = estimate.stains.renamed(settings.stains.stains.map(\.name))
                } catch let e as ImagingError {
                    throw ExtractorError(.invalidInput, "\(extractor): \(e.message)")
                }
            }
            prepared = try image.visit(BrightfieldPlanes(settings: used))
        case .fluorescence:
            prepared = try image.visit(FluorescencePlanes(channel: settings.channel, extractor: extractor))
        }
        channelNames = prepared.names
        // The measurement channels are laid out while the nuclei are found; the cells are grown
        // while the nuclei are measured.
        let found: NucleusDetector.Result
        do {
            (found, channels) = try concurrently({ try detector.detect(prepared.detection) }, prepared.measurement)
        } catch let e as ImagingError {
            throw ExtractorError(.invalidInput, "\(extractor): \(e.message)")
        }
        var nuclei = found.nuclei
        var (cells, props) = try concurrently({ expansion > 0 ? try nuclei.expanded(by: expansion) : nil }, { try nuclei.regionProperties() })
        analyzedPixels = mask.map { m in m.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } } ?? image.width * image.height
        if let mask {
            // Keep nuclei whose centroid is inside the mask.
            let w = nuclei.width
            var keep = [Bool](repeating: false, count: nuclei.count + 1)
            for p in props {
                let x = Int(p.centroidColumn.rounded()), y = Int(p.centroidRow.rounded())
                keep[Int(p.label)] = mask[y * w + x] != 0
            }
            if keep.contains(false) {
                var remap = [Int32](repeating: 0, count: nuclei.count + 1)
                var next: Int32 = 0
                for l in 1..<keep.count where keep[l] { next += 1; remap[l] = next }
                nuclei = try LabelImage(width: nuclei.width, height: nuclei.height, labels: nuclei.labels.map { remap[Int($0)] })
                cells = try cells.map { try LabelImage(width: $0.width, height: $0.height, labels: $0.labels.map { remap[Int($0)] }) }
                props = try nuclei.regionProperties()
            }
        }
        self.nuclei = nuclei
        self.cells = cells
        try measure(props)
    }

    private mutating func add(_ name: String, unit: String?, _ help: String, _ v: [Double]) {
        columns.append(FeatureColumn(name, unit: unit, help: help))
        values.append(v)
    }

    /// Fills ``columns`` and ``values`` from the nucleus properties and the cell compartments.
    private mutating func measure(_ props: [RegionProperties]) throws {
        let s = pixelSize ?? 1, a = pixelArea
        let n = count
        precondition(props.count == n, "every nucleus label has pixels")
        add("x", unit: "px", "centroid column, pixels from the left edge", props.map { $0.centroidColumn })
        add("y", unit: "px", "centroid row, pixels from the top edge", props.map { $0.centroidRow })
        if pixelSize != nil {
            add("x_um", unit: "µm", "centroid x", props.map { $0.centroidColumn * s })
            add("y_um", unit: "µm", "centroid y", props.map { $0.centroidRow * s })
        }
        add("nucleus_area", unit: areaUnit, "nucleus area", props.map { Double($0.area) * a })
        add("nucleus_perimeter", unit: lengthUnit, "nucleus perimeter (scikit-image perimeter, 4-connectivity)", props.map { $0.perimeter * s })
        add("nucleus_circularity", unit: nil, "4π·area/perimeter², capped at 1", props.map(\.circularity))
        add("nucleus_eccentricity", unit: nil, "eccentricity of the ellipse with the same second moments", props.map(\.eccentricity))
        add("nucleus_major_axis", unit: lengthUnit, "major axis of that ellipse", props.map { $0.majorAxisLength * s })
        add("nucleus_minor_axis", unit: lengthUnit, "minor axis of that ellipse", props.map { $0.minorAxisLength * s })
        add("nucleus_solidity", unit: nil, "area / convex area (scikit-image solidity)", props.map(\.solidity))
        add("nucleus_max_caliper", unit: lengthUnit, "maximum Feret diameter (scikit-image feret_diameter_max)", props.map { $0.feretDiameterMax * s })
        add("nucleus_min_caliper", unit: lengthUnit, "minimum Feret diameter (rotating calipers on the same hull)", props.map { $0.minCaliper * s })
        // Nucleus, cell and cytoplasm (cell minus nucleus) intensities in one pass; every cell
        // contains its nucleus.
        let stats = try (cells ?? nuclei).intensityStatistics(channels, inner: cells == nil ? nil : nuclei)
        func compartment(_ r: RegionIntensities) -> [[RegionProperties.ChannelStatistics]?] {
            (1..<(n + 1)).map { l in l < r.area.count && r.area[l] > 0 ? r.statistics[l] : nil }
        }
        addIntensities("nucleus", compartment(stats.inner ?? stats.whole))
        guard cells != nil, let cytoplasm = stats.outside else { return }
        let cell = stats.whole
        func area(_ r: RegionIntensities) -> [Double] { (1..<(n + 1)).map { l in Double(l < r.area.count ? r.area[l] : 0) * a } }
        let cellArea = area(cell)
        add("cell_area", unit: areaUnit, "cell area (nucleus plus cytoplasm)", cellArea)
        add("cytoplasm_area", unit: areaUnit, "cytoplasm area (cell minus nucleus)",
            area(cytoplasm))
        add("nucleus_cell_area_ratio", unit: nil, "nucleus area / cell area",
            zip(props, cellArea).map { $1 > 0 ? Double($0.area) * a / $1 : 1 })
        addIntensities("cell", compartment(cell))
        addIntensities("cytoplasm", compartment(cytoplasm))
    }

    /// Intensity columns of one compartment; objects without pixels in it get 0.
    private mutating func addIntensities(_ compartment: String, _ stats: [[RegionProperties.ChannelStatistics]?]) {
        func channel(_ c: Int, _ f: (RegionProperties.ChannelStatistics) -> Double) -> [Double] {
            stats.map { $0.map { f($0[c]) } ?? 0 }
        }
        switch settings.mode {
        case .brightfield:
            // Channels: red, green, blue, brightness, then the stains.
            add("\(compartment)_brightness", unit: nil, "\(compartment): mean luminance (0.2125R + 0.7154G + 0.0721B, sample units)", channel(3, \.mean))
            for (c, name) in ["red", "green", "blue"].enumerated() {
                add("\(compartment)_\(name)_mean", unit: nil, "\(compartment): mean \(name) (sample units)", channel(c, \.mean))
            }
            for (k, stain) in channelNames.enumerated() {
                addStatistics("\(compartment)_\(stain)_od", unit: "OD", "\(compartment): \(stain) optical density", 4 + k, channel)
            }
        case .fluorescence:
            for (k, name) in channelNames.enumerated() {
                addStatistics("\(compartment)_\(name)", unit: nil, "\(compartment): \(name) intensity (sample units)", k, channel)
            }
        }
    }

    private mutating func addStatistics(
        _ prefix: String, unit: String?, _ help: String, _ c: Int,
        _ channel: (Int, (RegionProperties.ChannelStatistics) -> Double) -> [Double]
    ) {
        add("\(prefix)_mean", unit: unit, "\(help), mean", channel(c, \.mean))
        add("\(prefix)_sum", unit: unit, "\(help), sum over pixels", channel(c, \.sum))
        add("\(prefix)_std", unit: unit, "\(help), standard deviation", channel(c, \.std))
        add("\(prefix)_max", unit: unit, "\(help), maximum", channel(c, \.max))
        add("\(prefix)_min", unit: unit, "\(help), minimum", channel(c, \.min))
        add("\(prefix)_range", unit: unit, "\(help), max − min", channel(c) { $0.max - $0.min })
    }

    /// The objects as an ``ObjectTable``, with extra per-object columns and an optional class per object.
    func objectTable(extra: [(FeatureColumn, [Double])] = [], classes: [String]? = nil) -> ObjectTable {
        var cols = [FeatureColumn("id", .integer, help: "object id = label in the label images")] + columns + extra.map(\.0)
        let all = values + extra.map(\.1)
        var rows = (0..<count).map { k in [FeatureValue.integer(k + 1)] + all.map { .number($0[k]) } }
        if let classes {
            cols.append(FeatureColumn("class", .text, help: "classification"))
            for k in 0..<count { rows[k].append(.text(classes[k])) }
        }
        return ObjectTable(nuclei: nuclei, cells: cells, columns: cols, rows: rows, classes: classes, pixelSizeMicrons: pixelSize)
    }
}

/// What detection and measurement read from an image: the detection image now, the measurement
/// channels when ``measurement`` is called (it may run on another thread, beside the detection).
private struct Planes: Sendable {
    var detection: Image<Float>
    var measurement: @Sendable () throws -> Image<Float>
    var names: [String]
}

/// Brightfield planes: the detection image, and the measurement channels red, green, blue,
/// brightness (sample units) and the first two stains' OD.
private struct BrightfieldPlanes: ImageVisitor {
    let settings: NucleusPipelineSettings

    func visit<P: PixelComponent>(_ image: Image<P>) throws -> Planes {
        let stains = try deconvolveStains(image, matrix: settings.stains, convention: .qupath())
        let w = image.width, h = image.height, n = w * h, c = image.channels
        let (first, second) = settings.measuredStains
        let st = stains.pixels
        var od: [Float]? = nil
        if settings.detection == "od-sum" { od = try opticalDensity(image).pixels }
        // Every sample of both planes is written below, so they start uninitialised.
        let detection = st.withUnsafeBufferPointer { st in
            [Float](unsafeUninitializedCapacity: n) { d, count in
                switch settings.detection {
                case "od-sum":
                    let od = od!
                    for i in 0..<n { d[i] = od[i * 3] + od[i * 3 + 1] + od[i * 3 + 2] }
                case "hematoxylin+dab":
                    for i in 0..<n { d[i] = max(0, st[i * 3 + first]) + max(0, st[i * 3 + second]) }
                default:
                    for i in 0..<n { d[i] = st[i * 3 + first] }
                }
                count = n
            }
        }
        let measurement: @Sendable () throws -> Image<Float> = {
            let channels = image.withUnsafeSamples { s in
                st.withUnsafeBufferPointer { st in
                    [Float](unsafeUninitializedCapacity: n * 6) { out, count in
                        for i in 0..<n {
                            let r = s[i * c].floatValue, g = s[i * c + 1].floatValue, b = s[i * c + 2].floatValue
                            out[i * 6] = r
                            out[i * 6 + 1] = g
                            out[i * 6 + 2] = b
                            out[i * 6 + 3] = 0.2125 * r + 0.7154 * g + 0.0721 * b
                            out[i * 6 + 4] = st[i * 3 + first]
                            out[i * 6 + 5] = st[i * 3 + second]
                        }
                        count = n * 6
                    }
                }
            }
            return try Image(width: w, height: h, channels: 6, pixels: channels)
        }
        return Planes(detection: try Image(width: w, height: h, channels: 1, pixels: detection), measurement: measurement,
                      names: settings.channelNames(colorChannels: 3))
    }
}

/// Fluorescence planes: the chosen channel on the 0–1 scale for detection; every colour channel
/// in sample units for measurement.
private struct FluorescencePlanes: ImageVisitor {
    let channel: String
    let extractor: String

    func visit<P: PixelComponent>(_ image: Image<P>) throws -> Planes {
        let colors = image.channels == 2 || image.channels == 4 ? image.channels - 1 : image.channels
        let names = colors == 1 ? ["gray"] : ["red", "green", "blue"]
        let index: Int
        switch channel {
        case "auto": index = colors == 1 ? 0 : 2
        case "gray":
            guard colors == 1 else { throw ExtractorError(.invalidParameter, "\(extractor): channel=gray needs a gray image; choose red, green or blue") }
            index = 0
        default:
            guard colors == 3 else { throw ExtractorError(.invalidParameter, "\(extractor): channel=\(channel) needs an RGB image; this one is gray (use channel=auto)") }
            index = ["red", "green", "blue"].firstIndex(of: channel)!
        }
        let w = image.width, h = image.height, n = w * h, c = image.channels
        let scale = Float(1 / P.nominalMax)
        var detection = [Float](repeating: 0, count: n)
        image.withUnsafeSamples { s in
            for i in 0..<n { detection[i] = s[i * c + index].floatValue * scale }
        }
        let measurement: @Sendable () throws -> Image<Float> = {
            var channels = [Float](repeating: 0, count: n * colors)
            image.withUnsafeSamples { s in
                for i in 0..<n {
                    for k in 0..<colors { channels[i * colors + k] = s[i * c + k].floatValue }
                }
            }
            return try Image(width: w, height: h, channels: colors, pixels: channels)
        }
        return Planes(detection: try Image(width: w, height: h, channels: 1, pixels: detection), measurement: measurement, names: names)
    }
}
