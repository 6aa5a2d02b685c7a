import Foundation
import KaryonAnalysis
import KaryonImaging

/// Detection and scoring quality on synthetic fields with ground truth, over seeds, densities
/// (sparse to touching), counterstain intensities and noise: nuclei F1 at IoU ≥ 0.5, AJI, and
/// the Ki-67 index error against the designed classes.
func nucleusQuality(fields perCondition: Int, size: Int) throws -> [String: Any] {
    let ki67 = try ExtractorRegistry.standard.configure("ki67")
    var rows: [[String: Any]] = []
    var seed: UInt64 = 9000
    for density in [600.0, 2000, 4500] {
        for noise in [2.0, 6] {
            for scale in [0.6, 1.0, 1.4] {
                for _ in 0..<perCondition {
                    seed += 1
                    var spec = SyntheticFieldSpec()
                    spec.width = size
                    spec.height = size
                    spec.seed = seed
                    spec.densityPerMM2 = density
                    spec.noiseSigma = noise
                    spec.hematoxylinScale = scale
                    spec.positiveFraction = Double(seed % 7) / 8
                    let field = try FieldSynthesizer.render(spec)
                    let input = ExtractionInput(image: .uint8(field.image), pixelSizeMicrons: spec.pixelSizeMicrons)
                    let result = try ki67.run(input, imageSHA256: "")
                    let truth = try LabelImage(width: size, height: size, labels: field.labels.pixels.map { Int32($0) })
                    let eval = try InstanceEvaluation(truth: truth, predicted: result.objects!.nuclei)
                    let index = result.features["positive_percent"]!.doubleValue!
                    rows.append([
                        "seed": seed, "density": density, "noise": noise, "hematoxylin_scale": scale,
                        "truth": eval.truthCount, "predicted": eval.predictedCount,
                        "f1": eval.f1, "precision": eval.precision, "recall": eval.recall, "aji": eval.aggregatedJaccard,
                        "ki67_truth": field.positivePercent, "ki67": index, "ki67_error": abs(index - field.positivePercent),
                    ])
                }
            }
        }
    }
    return ["fields": rows]
}
