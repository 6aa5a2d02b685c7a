import ArgumentParser
import Foundation
import KaryonAnalysis
import KaryonImaging

/// `karyon evaluate`: compares an analysis with ground truth (as `karyon synth` writes it).
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Compare an analysis with ground truth: detection P/R/F1 at IoU ≥ 0.5, AJI, Ki-67 index error, HER2 agreement.",
        discussion: """
            Inputs are files: the true and predicted 16-bit instance labels (karyon synth's \
            <stem>-labels.png, karyon analyze --labels), optionally the truth JSON and nuclei CSV \
            (<stem>-truth.json, <stem>-nuclei.csv), the analysis output (karyon analyze jsonl) and \
            the predicted objects (karyon analyze --objects). Prints one JSON object.
            """)

    @Option(name: .customLong("truth-labels"), help: "True instance labels (16-bit PNG/TIFF, 0 = background).")
    var truthLabels: String

    @Option(help: "Predicted instance labels (karyon analyze --labels).")
    var labels: String

    @Option(help: "Truth JSON (karyon synth <stem>-truth.json): Ki-67 index and HER2 score.")
    var truth: String?

    @Option(name: .customLong("truth-nuclei"), help: "Truth per nucleus (karyon synth <stem>-nuclei.csv): classes for HER2 agreement.")
    var truthNuclei: String?

    @Option(help: "Analysis output (karyon analyze … jsonl) holding a ki67 or her2 result.")
    var results: String?

    @Option(help: "Predicted objects (karyon analyze --objects) with a class column.")
    var objects: String?

    @Option(name: .customLong("iou"), help: "IoU threshold for a match.")
    var iou: Double = 0.5

    func run() throws {
        guard iou > 0, iou <= 1 else { throw CLIError("--iou must be in (0, 1], got \(iou)") }
        let t = try loadLabels(truthLabels), p = try loadLabels(labels)
        let eval = try InstanceEvaluation(truth: t, predicted: p, iouThreshold: iou)
        var out: [(String, String)] = [
            ("truth_objects", String(eval.truthCount)), ("predicted_objects", String(eval.predictedCount)),
            ("true_positives", String(eval.truePositives)), ("false_positives", String(eval.falsePositives)),
            ("false_negatives", String(eval.falseNegatives)),
            ("precision", JSONText.number(eval.precision)), ("recall", JSONText.number(eval.recall)),
            ("f1", JSONText.number(eval.f1)), ("aji", JSONText.number(eval.aggregatedJaccard)),
            ("mean_matched_iou", JSONText.number(eval.meanMatchedIoU)),
        ]
        let truthJSON = try truth.map(readJSONObject)
        if let results {
            let lines = try String(contentsOfFile: results, encoding: .utf8).split(separator: "\n")
            for line in lines {
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let extractor = object["extractor"] as? String, let features = object["features"] as? [String: Any]
                else { throw CLIError("\(results): every line must be a karyon analyze JSON object") }
                if extractor == "ki67", let index = features["positive_percent"] as? Double {
                    out.append(("ki67_index", JSONText.number(index)))
                    if let expected = truthJSON?["positive_percent"] as? Double {
                        out.append(("ki67_index_truth", JSONText.number(expected)))
                        out.append(("ki67_index_error", JSONText.number(abs(index - expected))))
                    }
                }
                if extractor == "her2", let score = features["score"] as? String {
                    out.append(("her2_score", JSONText.string(score)))
                    if let expected = truthJSON?["her2_score"] as? String {
                        out.append(("her2_score_truth", JSONText.string(expected)))
                        out.append(("her2_score_exact", score == expected ? "true" : "false"))
                    }
                }
            }
        }
        if let objects, let truthNuclei {
            let predicted = try classColumn(objects, id: "id", klass: "class")
            let expected = try classColumn(truthNuclei, id: "id", klass: "class")
            var agree = 0, compared = 0
            for m in eval.matches {
                guard let a = expected[m.truth], let b = predicted[m.predicted], b != "border" else { continue }
                compared += 1
                if Self.classesAgree(truth: a, predicted: b) { agree += 1 }
            }
            out.append(("classes_compared", String(compared)))
            out.append(("class_agreement", JSONText.number(compared == 0 ? 1 : Double(agree) / Double(compared))))
        }
        emit(JSONText.object(out) + "\n")
    }

    /// Equal classes agree; a single-threshold `positive` agrees with any true intensity class.
    static func classesAgree(truth: String, predicted: String) -> Bool {
        truth == predicted || (predicted == "positive" && ["1+", "2+", "3+"].contains(truth))
    }

    func loadLabels(_ path: String) throws -> LabelImage {
        let image = try ImageCodec.decode(file: path)
        guard image.channels == 1 else { throw CLIError("\(path): label images have one channel, this one has \(image.channels)") }
        let labels: [Int32] = switch image {
        case .uint8(let i): i.pixels.map { Int32($0) }
        case .uint16(let i): i.pixels.map { Int32($0) }
        case .float32: throw CLIError("\(path): label images are 8- or 16-bit integers, not float")
        }
        return try LabelImage(width: image.width, height: image.height, labels: labels)
    }

    func readJSONObject(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw CLIError("\(path): cannot read a JSON object") }
        return object
    }

    /// id → class from a CSV with a header (unquoted ids; the class column may be quoted).
    func classColumn(_ path: String, id: String, klass: String) throws -> [Int: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("\(path): cannot read") }
        var lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard !lines.isEmpty else { throw CLIError("\(path): empty CSV") }
        let header = lines.removeFirst()
        guard let i = header.firstIndex(of: id), let k = header.firstIndex(of: klass) else {
            throw CLIError("\(path): needs '\(id)' and '\(klass)' columns")
        }
        var out: [Int: String] = [:]
        for row in lines where row.count == header.count {
            if let n = Int(row[i]) { out[n] = row[k].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return out
    }
}
