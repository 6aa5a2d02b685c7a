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
        default:
            FileHandle.standardError.write(Data("karyon-bench: unknown argument \(a)\n".utf8))
            exit(2)
        }
    }
    return o
}

/// Median wall time in seconds of `repeats` runs after one warm-up run.
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

var results: [String: Double] = [:]
results["deconvolution_skimage_hed"] = try time(options.repeats) {
    _ = try deconvolveStains(image, matrix: .scikitImageHED, convention: .scikitImage)
}
results["deconvolution_qupath_hdab"] = try time(options.repeats) { _ = try deconvolveStains(image, matrix: .qupathHDAB) }
results["gaussian"] = try time(options.repeats) { _ = try gaussianBlur(image, sigma: options.sigma) }
results["rgb2gray"] = time(options.repeats) { _ = rgbToGray(image) }

// Texture: glcm with all ten properties, 4 angles, d = 1, 256 levels on 8-bit gray fields.
let gray8 = rgbToGray(image).map { UInt8(clampingNative: $0 * 255) }
let glcm = try ExtractorRegistry.standard.configure("glcm")
var texture: [String: String] = [:]
for side in [512, 2048] where side <= options.size {
    let tile = try gray8.cropped(x: 0, y: 0, width: side, height: side).contiguous()
    let tilePath = options.out + "/bench-gray-\(side).png"
    try ImageCodec.write(.uint8(tile), to: tilePath)
    texture[String(side)] = tilePath
    let input = ExtractionInput(image: .uint8(tile))
    results["glcm_\(side)"] = try time(options.repeats) { _ = try glcm.run(input, imageSHA256: "") }
    for (points, radius) in [(8, 1), (16, 2)] {
        let lbp = try ExtractorRegistry.standard.configure(
            "lbp", text: ["points": String(points), "radius": String(radius), "method": "uniform"])
        results["lbp_p\(points)_r\(radius)_\(side)"] = try time(options.repeats) { _ = try lbp.run(input, imageSHA256: "") }
    }
}

let json = try JSONSerialization.data(
    withJSONObject: ["image": path, "size": options.size, "sigma": options.sigma, "cores": ProcessInfo.processInfo.activeProcessorCount,
                     "seconds": results, "texture_images": texture], options: [.sortedKeys])
FileHandle.standardOutput.write(json + Data("\n".utf8))
