import KaryonImaging

/// Agreement between a predicted instance segmentation and the ground truth.
///
/// - Detection: a predicted object matches a true one when their intersection over union is at
///   least `iouThreshold` (0.5); matches are made one-to-one, highest IoU first (above 0.5 a match
///   is unique anyway). Precision = TP / predicted, recall = TP / true, F1 their harmonic mean
///   (each 1 when both sides are empty).
/// - Aggregated Jaccard index: every true object G is paired with the predicted object S of
///   highest IoU (a predicted object may be paired more than once, as in Kumar et al.);
///   AJI = Σ|G ∩ S| / (Σ|G ∪ S| + Σ areas of predicted objects never paired); 1 when both are empty.
///
/// ## References
/// - N. Kumar et al., "A dataset and a technique for generalized nuclear segmentation for
///   computational pathology", IEEE TMI 36(7):1550–1560, 2017, doi:10.1109/TMI.2017.2677499 (AJI).
public struct InstanceEvaluation: Sendable, Equatable {
    public struct Match: Sendable, Equatable {
        public var truth: Int
        public var predicted: Int
        public var iou: Double
    }

    public var truthCount: Int
    public var predictedCount: Int
    public var matches: [Match]
    public var aggregatedJaccard: Double

    public var truePositives: Int { matches.count }
    public var falsePositives: Int { predictedCount - matches.count }
    public var falseNegatives: Int { truthCount - matches.count }
    public var precision: Double { predictedCount == 0 ? (truthCount == 0 ? 1 : 0) : Double(truePositives) / Double(predictedCount) }
    public var recall: Double { truthCount == 0 ? (predictedCount == 0 ? 1 : 0) : Double(truePositives) / Double(truthCount) }
    public var f1: Double {
        let p = precision, r = recall
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }
    /// Mean IoU of the matched pairs (0 without matches).
    public var meanMatchedIoU: Double { matches.isEmpty ? 0 : matches.map(\.iou).reduce(0, +) / Double(matches.count) }

    /// Compares two label images of the same size (0 = background; labels need not be sequential:
    /// objects are the labels that have pixels).
    /// - Throws: ``ImagingError`` for different sizes or a threshold outside (0, 1].
    /// - Complexity: O(pixels + overlapping pairs · log).
    public init(truth: LabelImage, predicted: LabelImage, iouThreshold: Double = 0.5) throws {
        guard truth.width == predicted.width, truth.height == predicted.height else {
            throw ImagingError(.sizeMismatch, "truth is \(truth.width)×\(truth.height) but the prediction \(predicted.width)×\(predicted.height)")
        }
        guard iouThreshold > 0, iouThreshold <= 1 else {
            throw ImagingError(.invalidArgument, "the IoU threshold must be in (0, 1], got \(iouThreshold)")
        }
        let ta = truth.areas, pa = predicted.areas
        truthCount = ta.dropFirst().filter { $0 > 0 }.count
        predictedCount = pa.dropFirst().filter { $0 > 0 }.count
        var intersections: [Int: Int] = [:]
        let stride = predicted.count + 1
        for i in 0..<truth.labels.count {
            let t = Int(truth.labels[i]), p = Int(predicted.labels[i])
            if t != 0 && p != 0 { intersections[t * stride + p, default: 0] += 1 }
        }
        var pairs: [Match] = intersections.map { key, inter in
            let t = key / stride, p = key % stride
            return Match(truth: t, predicted: p, iou: Double(inter) / Double(ta[t] + pa[p] - inter))
        }
        pairs.sort { ($0.iou, -$0.truth, -$0.predicted) > ($1.iou, -$1.truth, -$1.predicted) }
        var usedT = Set<Int>(), usedP = Set<Int>()
        var matches: [Match] = []
        for m in pairs where m.iou >= iouThreshold && !usedT.contains(m.truth) && !usedP.contains(m.predicted) {
            usedT.insert(m.truth)
            usedP.insert(m.predicted)
            matches.append(m)
        }
        self.matches = matches.sorted { $0.truth < $1.truth }

        // AJI: best predicted partner per true object.
        var best: [Int: Match] = [:]
        for m in pairs where best[m.truth] == nil { best[m.truth] = m }
        var c = 0, u = 0
        var paired = Set<Int>()
        for t in 1..<ta.count where ta[t] > 0 {
            if let m = best[t] {
                let inter = intersections[t * stride + m.predicted]!
                c += inter
                u += ta[t] + pa[m.predicted] - inter
                paired.insert(m.predicted)
            } else {
                u += ta[t]
            }
        }
        for p in 1..<pa.count where pa[p] > 0 && !paired.contains(p) { u += pa[p] }
        aggregatedJaccard = u == 0 ? 1 : Double(c) / Double(u)
    }
}
