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
            emit(JSONText.array(descriptors.map(Self.json)) + "\n")
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

    static func json(_ d: ExtractorDescriptor) -> String {
        let determinism: String = switch d.determinism {
        case .bitExact: JSONText.string("bit-exact")
        case .tolerance(let t): JSONText.object([("tolerance", JSONText.number(t))])
        case .seeded(let key): JSONText.object([("seeded_by", JSONText.string(key))])
        }
        let parameters = d.parameters.map { p in
            var pairs: [(String, String)] = [
                ("key", JSONText.string(p.key)),
                ("type", JSONText.string(p.type.name)),
                ("default", JSONText.value(p.defaultValue)),
            ]
            if case .choice(let options) = p.type { pairs.append(("choices", JSONText.array(options.map(JSONText.string)))) }
            if case .choiceList(let options) = p.type { pairs.append(("choices", JSONText.array(options.map(JSONText.string)))) }
            pairs.append(("minimum", p.minimum.map(JSONText.number) ?? "null"))
            pairs.append(("maximum", p.maximum.map(JSONText.number) ?? "null"))
            pairs.append(("unit", p.unit.map(JSONText.string) ?? "null"))
            pairs.append(("help", JSONText.string(p.help)))
            return JSONText.object(pairs)
        }
        return JSONText.object([
            ("id", JSONText.string(d.id)),
            ("version", JSONText.string(d.version)),
            ("summary", JSONText.string(d.summary)),
            ("references", JSONText.array(d.references.map(JSONText.string))),
            ("determinism", determinism),
            ("parameters", JSONText.array(parameters)),
        ])
    }
}
