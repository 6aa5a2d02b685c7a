import Foundation
import KaryonAnalysis
import KaryonImaging

/// Detection and scoring quality on synthetic fields with ground truth, over seeds, densities
/// (sparse to touching), counterstain intensities and noise: nuclei F1 at IoU ≥ 0.5 and AJI
/// (Ki-67 fields scored by `ki67`, fluorescence fields by `nuclei`), the Ki-67 index error, and
/// for HER2 fields the slide score and per-cell class agreement.
func nucleusQuality(fields perCondition: Int, size: Int) throws -> [String: Any] {
    let ki67 = try ExtractorRegistry.standard.configure("ki67")
    let her2 = try ExtractorRegistry.standard.configure("her2")
    let fluorescence = try ExtractorRegistry.standard.configure("nuclei", text: ["mode": "fluorescence"])
    var ihcRows: [[String: Any]] = [], her2Rows: [[String: Any]] = [], flRows: [[String: Any]] = []
    var seed: UInt64 = 9000
    func render(_ kind: SyntheticFieldSpec.Kind, density: Double, noise: Double, scale: Double) throws -> SyntheticField {
        seed += 1
        var spec = SyntheticFieldSpec()
        spec.kind = kind
        spec.width = size
        spec.height = size
        spec.seed = seed
        spec.densityPerMM2 = density
        spec.noiseSigma = noise
        spec.hematoxylinScale = scale
        spec.positiveFraction = Double(seed % 7) / 8
        if kind == .her2 { spec.her2Score = ["0", "1+", "2+", "3+"][Int(seed % 4)] }
        return try FieldSynthesizer.render(spec)
    }
    func detection(_ field: SyntheticField, _ objects: ObjectTable) throws -> InstanceEvaluation {
        let truth = try LabelImage(width: size, height: size, labels: field.labels.pixels.map { Int32($0) })
        return try InstanceEvaluation(truth: truth, predicted: objects.nuclei)
    }
    for density in [600.0, 2000, 4500] {
        for noise in [2.0, 6] {
            for scale in [0.6, 1.0, 1.4] {
                for _ in 0..<perCondition {
                    let condition: [String: Any] = ["density": density, "noise": noise, "hematoxylin_scale": scale]
                    // Ki-67 (brightfield H-DAB, nuclear marker).
                    var field = try render(.ihc, density: density, noise: noise, scale: scale)
                    var result = try ki67.run(ExtractionInput(image: .uint8(field.image), pixelSizeMicrons: 0.5), imageSHA256: "")
                    var eval = try detection(field, result.objects!)
                    let index = result.features["positive_percent"]!.doubleValue!
                    ihcRows.append(condition.merging([
                        "seed": field.spec.seed, "truth": eval.truthCount, "predicted": eval.predictedCount,
                        "f1": eval.f1, "aji": eval.aggregatedJaccard,
                        "ki67_truth": field.positivePercent, "ki67": index, "ki67_error": abs(index - field.positivePercent),
                    ]) { a, _ in a })
                    // Fluorescence nuclei.
                    field = try render(.fluorescence, density: density, noise: noise, scale: scale)
                    result = try fluorescence.run(ExtractionInput(image: .uint8(field.image), pixelSizeMicrons: 0.5), imageSHA256: "")
                    eval = try detection(field, result.objects!)
                    flRows.append(condition.merging(["seed": field.spec.seed, "f1": eval.f1, "aji": eval.aggregatedJaccard]) { a, _ in a })
                    // HER2 membranes.
                    field = try render(.her2, density: density, noise: noise, scale: scale)
                    result = try her2.run(ExtractionInput(image: .uint8(field.image), pixelSizeMicrons: 0.5), imageSHA256: "")
                    let objects = result.objects!
                    eval = try detection(field, objects)
                    var agree = 0, compared = 0
                    for m in eval.matches {
                        let truthClass = field.nuclei[m.truth - 1], predicted = objects.classes![m.predicted - 1]
                        guard !truthClass.touchesBorder, predicted != "border" else { continue }
                        compared += 1
                        if truthClass.intensityClass == predicted { agree += 1 }
                    }
                    let score = result.features["score"]!.description
                    her2Rows.append(condition.merging([
                        "seed": field.spec.seed, "f1": eval.f1, "score_truth": field.her2Score!, "score": score,
                        "score_exact": score == field.her2Score!, "cells_compared": compared,
                        "class_agreement": compared == 0 ? 1 : Double(agree) / Double(compared),
                    ]) { a, _ in a })
                }
            }
        }
    }
    func mean(_ rows: [[String: Any]], _ key: String) -> Double {
        rows.map { ($0[key] as? Double) ?? (($0[key] as? Bool) == true ? 1 : 0) }.reduce(0, +) / Double(max(1, rows.count))
    }
    func minimum(_ rows: [[String: Any]], _ key: String) -> Double { rows.compactMap { $0[key] as? Double }.min() ?? 0 }
    func maximum(_ rows: [[String: Any]], _ key: String) -> Double { rows.compactMap { $0[key] as? Double }.max() ?? 0 }
    return [
        "fields_per_kind": ihcRows.count,
        "ihc": ["f1_mean": mean(ihcRows, "f1"), "f1_min": minimum(ihcRows, "f1"), "aji_mean": mean(ihcRows, "aji"),
                "ki67_error_mean": mean(ihcRows, "ki67_error"), "ki67_error_max": maximum(ihcRows, "ki67_error"),
                "ki67_within_2_points": mean(ihcRows.map { ["ok": (($0["ki67_error"] as? Double) ?? 99) <= 2] }, "ok")],
        "fluorescence": ["f1_mean": mean(flRows, "f1"), "f1_min": minimum(flRows, "f1"), "aji_mean": mean(flRows, "aji")],
        "her2": ["score_exact": mean(her2Rows, "score_exact"), "class_agreement_mean": mean(her2Rows, "class_agreement"),
                 "f1_mean": mean(her2Rows, "f1")],
        "rows": ["ihc": ihcRows, "fluorescence": flRows, "her2": her2Rows],
    ]
}
