import ArgumentParser
import Foundation
import KaryonAnalysis
import KaryonImaging

/// `karyon demo`: renders a small synthetic set, analyses it, and prints a summary table.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Render synthetic IHC fields into DATA/demo, analyse them and print a summary.")

    @Option(name: .customLong("data-dir"), help: "Data directory (default: $KARYON_DATA_DIR or ./karyon-data).")
    var dataDir: String?

    @Option(help: "Number of fields.")
    var fields: Int = 6

    func run() throws {
        guard (1...1000).contains(fields) else { throw CLIError("--fields must be 1 to 1000") }
        let root = dataDir ?? ProcessInfo.processInfo.environment["KARYON_DATA_DIR"] ?? "karyon-data"
        let dir = (root as NSString).appendingPathComponent("demo")
        emit("Rendering \(fields) synthetic H-DAB fields (512×512, 0.5 µm/px) into \(dir)/ …\n")
        var truths: [String: SyntheticField.Summary] = [:]
        var paths: [String] = []
        for i in 0..<fields {
            var spec = SyntheticFieldSpec()
            spec.seed = UInt64(i + 1)
            spec.positiveFraction = [0.05, 0.15, 0.3, 0.5, 0.7, 0.9][i % 6]
            let field = try FieldSynthesizer.render(spec)
            let files = try field.write(to: dir, stem: "ihc-\(spec.seed)")
            paths.append(files.image)
            truths[files.image] = field.summary
        }
        let analyzer = ImageAnalyzer(extractors: [try ExtractorRegistry.standard.configure("intensity")])
        let start = Date()
        let analyzed = try paths.map { try analyzer.analyze($0, pixelSizeMicrons: 0.5) }
        let seconds = Date().timeIntervalSince(start)
        emit("\n")
        let header = ["image", "size", "nuclei", "positive %", "mean R", "mean G", "mean B", "brightness", "sha256"]
        var rows: [[String]] = [header]
        for a in analyzed {
            let f = a.results[0].features
            let t = truths[a.path]!
            func v(_ k: String) -> String { String(format: "%.1f", f[k]?.doubleValue ?? .nan) }
            rows.append([
                (a.path as NSString).lastPathComponent, "\(a.header.width)×\(a.header.height)", String(t.nuclei),
                String(format: "%.1f", t.positivePercent), v("mean_r"), v("mean_g"), v("mean_b"), v("brightness"),
                String(a.sha256.prefix(12)),
            ])
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max()! }
        for (i, row) in rows.enumerated() {
            emit(row.enumerated().map { c, s in
                c == 0 ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - s.count) + s
            }.joined(separator: "  ") + "\n")
            if i == 0 { emit(widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ") + "\n") }
        }
        emit("\nnuclei and positive % are the rendered ground truth; intensity features were measured by Karyon "
            + String(format: "in %.2f s.\n", seconds))
        let me = CommandLine.arguments.first ?? "karyon"
        emit("Next: \(me) analyze \(dir)/ihc-1.png --extractor intensity\n      \(me) extractors\n      \(me) info \(dir)/ihc-1.png\n")
    }
}
