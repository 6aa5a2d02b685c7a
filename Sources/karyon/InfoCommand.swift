import ArgumentParser
import Foundation
import KaryonAnalysis
import KaryonImaging

/// `karyon info IMAGE...`: the header of each image, read without decoding pixels.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Print image headers (size, channels, bit depth, pages, pixel size) without decoding pixels.")

    @Argument(help: "PNG, JPEG or TIFF files.")
    var images: [String]

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    enum OutputFormat: String, ExpressibleByArgument { case text, json }

    func run() throws {
        for path in images {
            let h = try ImageCodec.probe(file: path)
            switch format {
            case .json:
                emit(JSONText.object([
                    ("image", JSONText.string(path)),
                    ("format", JSONText.string(h.format.rawValue)),
                    ("width", String(h.width)),
                    ("height", String(h.height)),
                    ("channels", String(h.channels)),
                    ("bit_depth", String(h.bitDepth)),
                    ("sample_type", h.sampleType.map { JSONText.string($0.rawValue) } ?? "null"),
                    ("pages", String(h.pageCount)),
                    ("pixel_size_um", h.pixelSizeMicrons.map(JSONText.number) ?? "null"),
                    ("cmyk", h.isCMYK ? "true" : "false"),
                ]) + "\n")
            case .text:
                let layout = ["", "gray", "gray+alpha", "RGB", "RGBA"][min(h.channels, 4)]
                let size = h.pixelSizeMicrons.map { String(format: "%.4g µm/px", $0) } ?? "pixel size unknown"
                emit("\(path): \(h.format.rawValue.uppercased()) \(h.width)×\(h.height) \(h.isCMYK ? "CMYK" : layout) "
                    + "\(h.bitDepth)-bit, \(h.pageCount) page(s), \(size)\n")
            }
        }
    }
}
