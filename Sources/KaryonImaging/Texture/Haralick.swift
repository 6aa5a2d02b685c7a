import Foundation

/// Haralick's 13 texture features of a grey-level co-occurrence matrix, in his order.
///
/// With p(i, j) the normalised matrix (rows i, columns j, 0-based levels), pₓ(i) = Σⱼ p(i, j),
/// p_y(j) = Σᵢ p(i, j), p₊(k) = Σ_{i+j=k} p, p₋(k) = Σ_{|i−j|=k} p, μᵢ, σᵢ (μⱼ, σⱼ) the mean and
/// standard deviation of i under pₓ (j under p_y), and H(q) = −Σ q log₂ q (0·log 0 = 0):
public enum HaralickFeature: String, Sendable, CaseIterable {
    /// f1 angular second moment Σ p²
    case asm
    /// f2 Σ k² p₋(k)
    case contrast
    /// f3 (Σ i·j·p − μᵢμⱼ)/(σᵢσⱼ); 1 when σᵢ or σⱼ is 0
    case correlation
    /// f4 sum of squares: variance Σ (i − μᵢ)² p
    case sumOfSquaresVariance = "sum_of_squares_variance"
    /// f5 inverse difference moment Σ p/(1 + (i − j)²)
    case inverseDifferenceMoment = "inverse_difference_moment"
    /// f6 sum average Σ k p₊(k) (k from 0, so 2μ for a symmetric matrix)
    case sumAverage = "sum_average"
    /// f7 sum variance Σ (k − f6)² p₊(k)
    case sumVariance = "sum_variance"
    /// f8 sum entropy H(p₊)
    case sumEntropy = "sum_entropy"
    /// f9 entropy H(p) = HXY
    case entropy
    /// f10 difference variance: the variance of the distribution p₋, Σ k² p₋ − (Σ k p₋)²
    case differenceVariance = "difference_variance"
    /// f11 difference entropy H(p₋)
    case differenceEntropy = "difference_entropy"
    /// f12 information measure of correlation 1: (HXY − HXY1)/max(HX, HY), HXY1 = −Σ p log₂(pₓ(i)p_y(j)),
    /// HX = H(pₓ), HY = H(p_y); HXY − HXY1 when both are 0
    case imc1
    /// f13 information measure of correlation 2: √(1 − exp(−2(HXY2 − HXY))), HXY2 = −Σ pₓp_y log₂(pₓp_y),
    /// clipped at 0 under the root
    case imc2
}

extension GLCM {
    /// Haralick's 13 features for every offset, from the same co-occurrence matrices as
    /// ``properties(values:width:height:levels:offsets:symmetric:mask:)`` (scikit-image offsets,
    /// masks, symmetric option).
    ///
    /// Definitions follow mahotas 1.4 `haralick_features` where they are sound, with these
    /// deliberate differences:
    /// - f10 difference variance is the variance of the distribution p₋ (mahotas'
    ///   `use_x_minus_y_variance=True`); mahotas' default is the variance of the histogram
    ///   entries, which depends on the matrix size and is not Haralick's feature.
    /// - For non-symmetric matrices, f4 is about the row index i (Haralick's Σ(i − μ)²p; mahotas
    ///   uses the column marginal) and HXY1 pairs pₓ(i) with p_y(j) (mahotas pairs column sum of
    ///   i with row sum of j). For symmetric matrices (mahotas' `haralick`) all 13 agree.
    /// - HXY1 and HXY2 equal HX + HY for the true marginals and are computed so.
    /// - Offsets follow scikit-image: 45° at distance d is (round(d·sin 45°), round(d·cos 45°)),
    ///   mahotas' is (d, d); both agree at d = 1.
    /// - The optional 14th feature of mahotas (not Haralick's maximal correlation coefficient)
    ///   is not offered.
    ///
    /// Sums of counts and moments are exact integers (as in ``properties(values:width:height:levels:offsets:symmetric:mask:)``),
    /// so results are bit-identical for the same input on every run.
    ///
    /// ## References
    /// - R. M. Haralick, K. Shanmugam, I. Dinstein, "Textural features for image classification",
    ///   IEEE Trans. SMC 3(6):610–621, 1973, doi:10.1109/TSMC.1973.4309314.
    /// - L. P. Coelho, "Mahotas: open source software for scriptable computer vision",
    ///   J. Open Research Software 1(1):e3, 2013, doi:10.5334/jors.ac (mahotas 1.4 `haralick_features`).
    public static func haralick(
        values: GreyLevelValues, width: Int, height: Int, levels: Int, offsets: [PixelOffset], symmetric: Bool,
        mask: [UInt8]? = nil
    ) throws -> [[HaralickFeature: Double]] {
        try statistics(values: values, width: width, height: height, levels: levels, offsets: offsets,
                       symmetric: symmetric, mask: mask, marginals: true).map { $0.haralick() }
    }
}

extension GLCM.Statistics {
    /// −Σ (c/N) log₂(c/N) over a histogram of counts summing to N, as log₂N − Σ c log₂c / N.
    static func entropy(_ counts: [UInt64], _ n: Double) -> Double {
        var s = 0.0
        for c in counts where c > 1 { s += Double(c) * log2(Double(c)) }
        return max(0, log2(n) - s / n)
    }

    /// Exact (N·Σc·k² − (Σc·k)²)/N² over a histogram indexed by k.
    static func variance(_ counts: [UInt64], _ n: Double) -> Double {
        var s1: Int128 = 0, s2: Int128 = 0, total: Int128 = 0
        for (k, c) in counts.enumerated() where c != 0 {
            s1 += Int128(c) * Int128(k)
            s2 += Int128(c) * Int128(k) * Int128(k)
            total += Int128(c)
        }
        return GLCM.double(total * s2 - s1 * s1) / (n * n)
    }

    func haralick() -> [HaralickFeature: Double] {
        let n = Double(pairs)
        let nn = Int128(pairs)
        var contrast = 0.0, idm = 0.0
        for (k, c) in byDifference.enumerated() where c != 0 {
            let kk = Double(k)
            contrast += Double(c) * kk * kk
            idm += Double(c) / (1 + kk * kk)
        }
        var sumK = 0.0
        for (k, c) in bySum.enumerated() where c != 0 { sumK += Double(c) * Double(k) }
        let varI = GLCM.double(nn * Int128(sumI2) - Int128(sumI) * Int128(sumI)) / (n * n)
        let varJ = GLCM.double(nn * Int128(sumJ2) - Int128(sumJ) * Int128(sumJ)) / (n * n)
        let cov = GLCM.double(nn * Int128(sumIJ) - Int128(sumI) * Int128(sumJ)) / (n * n)
        let hxy = max(0, log2(n) - sumCLog2C / n)
        let hx = Self.entropy(rows, n), hy = Self.entropy(columns, n)
        let hxy1 = hx + hy, hxy2 = hx + hy
        let maxH = max(hx, hy)
        return [
            .asm: Double(sumSquares) / (n * n),
            .contrast: contrast / n,
            .correlation: varI == 0 || varJ == 0 ? 1 : cov / (varI.squareRoot() * varJ.squareRoot()),
            .sumOfSquaresVariance: varI,
            .inverseDifferenceMoment: idm / n,
            .sumAverage: sumK / n,
            .sumVariance: Self.variance(bySum, n),
            .sumEntropy: Self.entropy(bySum, n),
            .entropy: hxy,
            .differenceVariance: Self.variance(byDifference, n),
            .differenceEntropy: Self.entropy(byDifference, n),
            .imc1: maxH == 0 ? hxy - hxy1 : (hxy - hxy1) / maxH,
            .imc2: max(0, 1 - exp(-2 * (hxy2 - hxy))).squareRoot(),
        ]
    }
}
