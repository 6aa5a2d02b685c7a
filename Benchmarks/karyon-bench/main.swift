// karyon-bench: times Karyon's kernels on the inputs scripts/bench/run gives it and prints JSON.
// The driver runs the scikit-image reference on the same inputs in the same run and prints ratios.
import Foundation
import KaryonAnalysis
import KaryonImaging

struct Options {
    var size = 2048
    var repeats = 5
    var out = ".build-bench"
    var sigma = 2.0
    /// Only kernels whose result key starts with this prefix (for profiling one kernel).
    var only = ""
    /// scikit-image's `immunohistochemistry` sample, saved by the driver, to analyse as a real field.
    var ihc: String? = nil
}

func parse() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst().makeIterator()
    while let a = args.next() {
        switch a {
        case "--size": o.size = Int(args.next() ?? "") ?? o.size
        case "--repeats": o.repeats = Int(args.next() ?? "") ?? o.repeats
        case "--out": o.out = args.next() ?? o.out
        case "--sigma": o.sigma = Double(args.next() ?? "") ?? o.sigma
        case "--only": o.only = args.next() ?? ""
        case "--ihc": o.ihc = args.next()
        default:
            FileHandle.standardError.write(Data("karyon-bench: unknown argument \(a)\n".utf8))
            exit(2)
        }
    }
    return o
}

/// Records under `key` the median wall time in seconds of `repeats` runs (`--repeats` unless
/// given) after one warm-up run, unless `--only` excludes the key.
func measure(_ key: String, repeats: Int? = nil, _ body: () throws -> Void) rethrows {
    guard key.hasPrefix(options.only) else { return }
    results[key] = try time(repeats ?? options.repeats, body)
}

func time(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var samples: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return samples.sorted()[samples.count / 2]
}

let options = parse()
Allocator.keepImageBuffers()  // as `karyon analyze` and the workers do
nonisolated(unsafe) var results: [String: Double] = [:]
if options.only == "quality" {
    // The per-field rows, for looking into the synthetic quality figures.
    let q = try nucleusQuality(fields: 1, size: 512)
    let data = try JSONSerialization.data(withJSONObject: q, options: [.sortedKeys, .prettyPrinted])
    FileHandle.standardOutput.write(data + Data("\n".utf8))
    exit(0)
}
var spec = SyntheticFieldSpec()
spec.width = options.size
spec.height = options.size
spec.seed = 2048
let field = try FieldSynthesizer.render(spec)
try FileManager.default.createDirectory(atPath: options.out, withIntermediateDirectories: true)
let path = options.out + "/bench-\(options.size).png"
try ImageCodec.write(.uint8(field.image), to: path)
// Decode the file as the reference does, so both sides work on identical pixels.
guard case .uint8(let image) = try ImageCodec.decode(file: path) else { fatalError("expected 8-bit RGB") }

try measure("deconvolution_skimage_hed") {
    _ = try deconvolveStains(image, matrix: .scikitImageHED, convention: .scikitImage)
}
try measure("deconvolution_qupath_hdab") { _ = try deconvolveStains(image, matrix: .qupathHDAB) }
try measure("gaussian") { _ = try gaussianBlur(image, sigma: options.sigma) }
measure("rgb2gray") { _ = rgbToGray(image) }

// Texture: glcm with all ten properties, 4 angles, d = 1, 256 levels on 8-bit gray fields.
let gray8 = rgbToGray(image).map { UInt8(clampingNative: $0 * 255) }
let glcm = try ExtractorRegistry.standard.configure("glcm")
let haralick = try ExtractorRegistry.standard.configure("haralick")
var texture: [String: String] = [:]
for side in [512, 2048] where side <= options.size {
    let tile = try gray8.cropped(x: 0, y: 0, width: side, height: side).contiguous()
    let tilePath = options.out + "/bench-gray-\(side).png"
    try ImageCodec.write(.uint8(tile), to: tilePath)
    texture[String(side)] = tilePath
    let input = ExtractionInput(image: .uint8(tile))
    try measure("glcm_\(side)") { _ = try glcm.run(input, imageSHA256: "") }
    try measure("haralick_\(side)") { _ = try haralick.run(input, imageSHA256: "") }
    for (points, radius) in [(8, 1), (16, 2)] {
        let lbp = try ExtractorRegistry.standard.configure(
            "lbp", text: ["points": String(points), "radius": String(radius), "method": "uniform"])
        try measure("lbp_p\(points)_r\(radius)_\(side)") { _ = try lbp.run(input, imageSHA256: "") }
    }
}

// Nuclei + Ki-67 on a 1024² H-DAB field at 0.5 µm/px, with its ground truth for F1.
var nucleiReport: [String: Any] = [:]
if "nuclei".hasPrefix(options.only) || options.only.hasPrefix("nuclei") {
    var nucleiSpec = SyntheticFieldSpec()
    nucleiSpec.width = 1024
    nucleiSpec.height = 1024
    nucleiSpec.seed = 1024
    let nucleiField = try FieldSynthesizer.render(nucleiSpec)
    let fieldPath = options.out + "/bench-nuclei-1024.png", truthPath = options.out + "/bench-nuclei-1024-labels.png"
    try ImageCodec.write(.uint8(nucleiField.image), to: fieldPath, pixelSizeMicrons: 0.5)
    try ImageCodec.write(.uint16(nucleiField.labels), to: truthPath)
    let input = ExtractionInput(image: .uint8(nucleiField.image), pixelSizeMicrons: 0.5)
    // The reference segments once and reads both the nuclei and the Ki-67 index from it; so does
    // Karyon when `nuclei` detects as `ki67` does (hematoxylin + DAB): `karyon analyze` then
    // segments the image once for both (`SharedWork`).
    let nuclei = try ExtractorRegistry.standard.configure("nuclei", text: ["detection": "hematoxylin+dab"])
    let ki67 = try ExtractorRegistry.standard.configure("ki67")
    // Each extractor's default detection (nuclei: hematoxylin, as QuPath): two segmentations.
    let nucleiDefault = try ExtractorRegistry.standard.configure("nuclei")
    var last: ExtractionResult? = nil
    // At least 11 runs, as scripts/bench/imaging.py times the reference: one run is short.
    let repeats = max(options.repeats, 11)
    // As `karyon analyze FIELD --extractor nuclei --extractor ki67` runs them: one image on all
    // cores, the two extractors side by side.
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let analyzer = ImageAnalyzer(extractors: [nuclei, ki67], extractorsAtOnce: cores)
    try measure("nuclei_ki67_1024", repeats: repeats) {
        last = try analyzer.run(input, imageSHA256: "").last
    }
    let twoSegmentations = ImageAnalyzer(extractors: [nucleiDefault, ki67], extractorsAtOnce: cores)
    try measure("nuclei_ki67_1024_default_detections", repeats: repeats) { _ = try twoSegmentations.run(input, imageSHA256: "") }
    // The default-detection pair one after the other, each with all cores.
    try measure("nuclei_ki67_1024_one_by_one", repeats: repeats) {
        _ = try nucleiDefault.run(input, imageSHA256: "")
        _ = try ki67.run(input, imageSHA256: "")
    }
    if let last {
        let truth = try LabelImage(width: 1024, height: 1024, labels: nucleiField.labels.pixels.map { Int32($0) })
        let eval = try InstanceEvaluation(truth: truth, predicted: last.objects!.nuclei)
        nucleiReport = ["image": fieldPath, "truth_labels": truthPath, "f1": eval.f1, "aji": eval.aggregatedJaccard,
                        "ki67": last.features["positive_percent"]!.doubleValue!, "ki67_truth": nucleiField.positivePercent,
                        // Skipped when profiling the timed kernel alone (`--only nuclei_ki67`).
                        "quality": "nuclei_quality".hasPrefix(options.only)
                            ? try nucleusQuality(fields: 1, size: 512).filter { $0.key != "rows" } : [:]]
    }
}

// The real IHC sample (colon, DAB in cytoplasm and membranes): nuclei on hematoxylin at an
// assumed 1 µm/px (the file's resolution tag says 264.6 µm/px, which is not a microscope's).
var ihcReport: [String: Any] = [:]
if let ihcPath = options.ihc, options.only.isEmpty {
    let decoded = try ImageCodec.decode(file: ihcPath)
    let input = ExtractionInput(image: decoded, pixelSizeMicrons: 1)
    let ki67 = try ExtractorRegistry.standard.configure("ki67", text: ["detection": "hematoxylin", "single_threshold": "false"])
    let result = try ki67.run(input, imageSHA256: "")
    let overlayPath = options.out + "/ihc-overlay.png"
    try ImageCodec.write(.uint8(try result.objects!.overlay(on: decoded)), to: overlayPath)
    ihcReport = ["overlay": overlayPath, "pixel_size_assumed_um": 1]
    for (name, value) in zip(result.features.names, result.features.values) { ihcReport[name] = value.doubleValue ?? value.description }
}

let json = try JSONSerialization.data(
    withJSONObject: ["image": path, "size": options.size, "sigma": options.sigma, "cores": ProcessInfo.processInfo.activeProcessorCount,
                     "seconds": results, "texture_images": texture, "nuclei": nucleiReport, "ihc": ihcReport], options: [.sortedKeys])
FileHandle.standardOutput.write(json + Data("\n".utf8))
