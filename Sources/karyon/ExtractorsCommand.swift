import ArgumentParser
import Foundation
import KaryonAnalysis

/// `karyon extractors`: the registered extractors and their parameter schemas.
struct ExtractorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extractors", abstract: "List extractors with their parameter schemas.")

    @Option(help: "Output format: text or json.")
    var format: InfoCommand.OutputFormat = .text

    func run() throws {
        let descriptors = ExtractorRegistry.standard.descriptors
        switch format {
        case .json:
            emit(JSONText.array(descriptors.map(\.jsonText)) + "\n")
        case .text:
            for d in descriptors {
                emit("\(d.id) \(d.version) — \(d.summary)\n")
                if d.parameters.isEmpty { emit("    (no parameters)\n") }
                for p in d.parameters {
                    var line = "    \(p.key) (\(p.type.name)"
                    if case .choice(let options) = p.type { line += ": \(options.joined(separator: " | "))" }
                    if case .choiceList(let options) = p.type { line += " of \(options.joined(separator: ", "))" }
                    line += ", default \(p.defaultValue)"
                    if let lo = p.minimum { line += ", min \(JSONText.number(lo))" }
                    if let hi = p.maximum { line += ", max \(JSONText.number(hi))" }
                    if let unit = p.unit { line += ", \(unit)" }
                    emit(line + ")\n        \(p.help)\n")
                }
                for r in d.references { emit("    ref: \(r)\n") }
            }
        }
    }
}
