import KaryonImaging

/// The detection parameters shared by the nucleus-based extractors (`nuclei`, `ki67`, `her2`),
/// with QuPath's "Positive cell detection" defaults. Sizes are in µm and are converted with the
/// image's pixel size; when the pixel size is unknown they are taken as pixels.
enum NucleusParameters {
    /// Detection images a brightfield extractor can use.
    static let detectionChoices = ["hematoxylin", "od-sum", "hematoxylin+dab"]

    /// The schema entries; `detection` defaults differ per extractor, `mode` exists only for `nuclei`.
    static func specs(detection: String, cellExpansion: Double, modes: Bool) -> [ParameterSpec] {
        var specs: [ParameterSpec] = []
        if modes {
            specs.append(ParameterSpec("mode", .choice(["brightfield", "fluorescence"]), default: .text("brightfield"),
                                       help: "brightfield: stained nuclei darker than the background (H-DAB, H&E); fluorescence: bright nuclei on dark (one channel)"))
        }
        specs += [
            ParameterSpec("stains", .choice(StainMatrix.presetNames + ["macenko-h-dab", "macenko-h-e"]), default: .text("h-dab"),
                          help: "brightfield stain vectors: h-dab, h-e (QuPath), hed, hdx (scikit-image), or estimated from each image by Macenko's method (hematoxylin and DAB, or hematoxylin and eosin)"),
            ParameterSpec("detection", .choice(detectionChoices), default: .text(detection),
                          help: "brightfield detection image: hematoxylin OD (QuPath's default), od-sum (OD summed over R, G, B), or hematoxylin+dab (also finds nuclei so DAB-dark that little hematoxylin shows)"),
            ParameterSpec("channel", .choice(["auto", "gray", "red", "green", "blue"]), default: .text("auto"),
                          help: "fluorescence nuclear channel; auto = the only channel of a gray image, blue (DAPI/Hoechst) of an RGB one"),
            ParameterSpec("background_radius", .number, default: .number(8), minimum: 0, maximum: 1000, unit: "µm",
                          help: "radius of the opening-by-reconstruction background estimate; 0 = no background subtraction"),
            ParameterSpec("median_radius", .number, default: .number(0), minimum: 0, maximum: 100, unit: "µm",
                          help: "median filter radius before detection; 0 = none"),
            ParameterSpec("sigma", .number, default: .number(1.5), minimum: 0, maximum: 100, unit: "µm",
                          help: "Gaussian smoothing σ of the detection image"),
            ParameterSpec("threshold", .number, default: .number(0.1), minimum: -10, maximum: 10,
                          help: "foreground threshold on the smoothed, background-subtracted detection image (OD for brightfield; 0–1 intensity for fluorescence)"),
            ParameterSpec("threshold_method", .choice(["fixed", "otsu"]), default: .text("fixed"),
                          help: "fixed: use threshold; otsu: Otsu's threshold of the smoothed detection image"),
            ParameterSpec("min_area", .number, default: .number(10), minimum: 0, maximum: 1e6, unit: "µm²",
                          help: "smallest nucleus kept"),
            ParameterSpec("max_area", .number, default: .number(400), minimum: 0, maximum: 1e7, unit: "µm²",
                          help: "largest nucleus kept"),
            ParameterSpec("max_background", .number, default: .number(2), minimum: 0, maximum: 100,
                          help: "nuclei on a background estimate above this are dropped (detection-image units)"),
            ParameterSpec("split", .boolean, default: .boolean(true),
                          help: "split touching nuclei by shape (distance-transform watershed)"),
            ParameterSpec("split_depth", .number, default: .number(0.75), minimum: 0, maximum: 50, unit: "µm",
                          help: "how far a distance-transform maximum must rise above its saddle to seed its own nucleus"),
            ParameterSpec("smooth_boundaries", .boolean, default: .boolean(true),
                          help: "smooth nucleus boundaries (binary opening, radius 0.5 µm, at least one pixel)"),
            ParameterSpec("cell_expansion", .number, default: .number(cellExpansion), minimum: 0, maximum: 100, unit: "µm",
                          help: "grow cells from nuclei by up to this distance (nearest nucleus wins); 0 = nuclei only"),
        ]
        return specs
    }
}

/// How the nucleus-based extractors read an image: the detection settings in µm, the stain
/// matrix and the detection image choice.
struct NucleusPipelineSettings: Sendable, Equatable {
    enum Mode: String, Sendable { case brightfield, fluorescence }

    var mode: Mode
    /// The preset, or for `macenko-*` the preset whose stain names the estimate takes.
    var stains: StainMatrix
    /// Estimate the vectors from each image (Macenko) instead of using the preset's.
    var estimateStains: Bool
    var detection: String
    var channel: String
    var backgroundRadius: Double, medianRadius: Double, sigma: Double
    var threshold: Double, otsu: Bool
    var minArea: Double, maxArea: Double, maxBackground: Double
    var split: Bool, splitDepth: Double, smooth: Bool
    var cellExpansion: Double

    init(_ p: ParameterSet, extractor: String) throws {
        mode = p["mode"].map { Mode(rawValue: $0.description)! } ?? .brightfield
        let stainChoice = p.text("stains")
        estimateStains = stainChoice.hasPrefix("macenko-")
        stains = StainMatrix.named(estimateStains ? String(stainChoice.dropFirst("macenko-".count)) : stainChoice)!
        detection = p.text("detection")
        channel = p.text("channel")
        backgroundRadius = p.number("background_radius")
        medianRadius = p.number("median_radius")
        sigma = p.number("sigma")
        threshold = p.number("threshold")
        otsu = p.text("threshold_method") == "otsu"
        minArea = p.number("min_area")
        maxArea = p.number("max_area")
        guard maxArea >= minArea else {
            throw ExtractorError(.invalidParameter, "\(extractor): max_area (\(maxArea)) must be at least min_area (\(minArea))")
        }
        maxBackground = p.number("max_background")
        split = p.boolean("split")
        splitDepth = p.number("split_depth")
        smooth = p.boolean("smooth_boundaries")
        cellExpansion = p.number("cell_expansion")
    }

    /// Index of the named stain in the matrix (`Hematoxylin`, `DAB`), if present.
    func stainIndex(_ name: String) -> Int? {
        stains.stains.firstIndex { $0.name.lowercased() == name.lowercased() }
    }

    /// The two stains measured in brightfield, in order: hematoxylin (or the first stain), then DAB
    /// (or the next one).
    var measuredStains: (first: Int, second: Int) {
        let first = stainIndex("hematoxylin") ?? 0
        return (first, stainIndex("dab") ?? (first == 0 ? 1 : 0))
    }

    /// Names of the measured channels for an input layout: stain names (brightfield) or colour
    /// channel names (fluorescence).
    func channelNames(colorChannels: Int) -> [String] {
        switch mode {
        case .brightfield:
            let (a, b) = measuredStains
            return [a, b].map { stains.stains[$0].name.lowercased() }
        case .fluorescence:
            return colorChannels == 1 ? ["gray"] : ["red", "green", "blue"]
        }
    }

    /// The detector in pixels for a pixel size (µm/px); sizes are pixels when it is unknown.
    /// - Throws: ``ExtractorError`` when the pixel size makes the settings absurd.
    func detector(pixelSize: Double?, extractor: String) throws -> NucleusDetector {
        let s = pixelSize ?? 1
        var d = NucleusDetector()
        d.backgroundRadius = backgroundRadius / s
        d.medianRadius = medianRadius / s
        d.sigma = sigma / s
        d.threshold = threshold
        d.otsuThreshold = otsu
        d.minArea = minArea / (s * s)
        d.maxArea = maxArea / (s * s)
        d.maxBackground = maxBackground
        d.splitByShape = split
        d.splitDepth = splitDepth / s
        d.smoothingRadius = smooth ? max(1, 0.5 / s) : 0
        d.cellExpansion = cellExpansion / s
        let unit = pixelSize == nil ? "px" : "µm at \(s) µm/px"
        guard d.maxArea >= 1 else {
            throw ExtractorError(
                .invalidInput,
                "\(extractor): nuclei of at most \(maxArea) \(unit)² are smaller than one pixel; check the pixel size")
        }
        for (name, px) in [("background_radius", d.backgroundRadius), ("sigma", d.sigma), ("cell_expansion", d.cellExpansion),
                           ("median_radius", d.medianRadius)] where px > 2048 {
            throw ExtractorError(
                .invalidInput,
                "\(extractor): \(name) becomes \(Int(px)) pixels (\(unit)); such a pixel size is implausible for microscopy — check --pixel-size")
        }
        return d
    }
}
