import ArgumentParser
import Foundation
import KaryonAnalysis

/// `karyon synth`: deterministic synthetic fields with ground truth.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Render deterministic synthetic fields with ground truth (image, 16-bit labels, nuclei CSV, truth JSON).")

    @Option(help: "Kind of field: ihc (brightfield H-DAB, nuclear marker), her2 (H-DAB membrane marker), fluorescence (bright nuclei, gray).")
    var kind: String = "ihc"

    @Option(help: "Random seed; the same seed renders the same field.")
    var seed: UInt64 = 1

    @Option(help: "Number of fields, with seeds SEED, SEED+1, …")
    var count: Int = 1

    @Option(help: "Field size as WIDTHxHEIGHT in pixels.")
    var size: String = "512x512"

    @Option(name: .customLong("pixel-size"), help: "Micrometres per pixel.")
    var pixelSize: Double = 0.5

    @Option(name: .customLong("positive-fraction"), help: "Fraction of DAB-positive nuclei (0–1).")
    var positiveFraction: Double = 0.3

    @Option(help: "Nuclei per mm² before overlap rejection.")
    var density: Double = 2000

    @Option(name: .customLong("noise"), help: "Sensor noise, standard deviation in 8-bit grey levels.")
    var noise: Double = 2

    @Option(name: .customLong("her2-score"), help: "HER2 fields: the slide score to draw cell classes for (0, 1+, 2+, 3+; default: from the seed).")
    var her2Score: String?

    @Option(name: .customLong("hematoxylin-scale"), help: "Counterstain (or fluorescence) strength, multiplies the nuclear amount (0.1–3).")
    var hematoxylinScale: Double = 1

    @Option(help: "Output directory.")
    var out: String

    func run() throws {
        guard let kind = SyntheticFieldSpec.Kind(rawValue: kind) else {
            throw CLIError("unknown --kind '\(kind)'; available: \(SyntheticFieldSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...100_000).contains(count) else { throw CLIError("--count must be 1 to 100000, got \(count)") }
        let (w, h) = try parseSize(size)
        for i in 0..<count {
            var spec = SyntheticFieldSpec()
            spec.kind = kind
            spec.width = w
            spec.height = h
            spec.pixelSizeMicrons = pixelSize
            spec.seed = seed &+ UInt64(i)
            spec.positiveFraction = positiveFraction
            spec.densityPerMM2 = density
            spec.noiseSigma = noise
            spec.her2Score = her2Score
            spec.hematoxylinScale = hematoxylinScale
            let field = try FieldSynthesizer.render(spec)
            let files = try field.write(to: out, stem: "\(kind.rawValue)-\(spec.seed)")
            switch kind {
            case .ihc:
                emit("\(files.image): \(field.nuclei.count) nuclei, \(field.positiveCount) positive "
                    + "(\(String(format: "%.1f", field.positivePercent))%)\n")
            case .her2:
                emit("\(files.image): \(field.nuclei.count) cells, HER2 \(field.her2Score ?? "")\n")
            case .fluorescence:
                emit("\(files.image): \(field.nuclei.count) nuclei\n")
            }
        }
    }
}

/// Parses `WIDTHxHEIGHT`.
func parseSize(_ text: String) throws -> (Int, Int) {
    let parts = text.lowercased().split(separator: "x")
    guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else {
        throw CLIError("--size must look like 512x512, got '\(text)'")
    }
    return (w, h)
}
