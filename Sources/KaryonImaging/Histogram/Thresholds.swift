/// Global thresholds computed from a ``Histogram``, each exactly as scikit-image 0.26 defines it.
/// Values are in the image's native units; pixels `> threshold` are foreground.
public enum Threshold {
    /// Otsu's method: the bin centre that maximises the between-class variance.
    ///
    /// ## References
    /// N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans. SMC
    /// 9(1):62–66, 1979, doi:10.1109/TSMC.1979.4310076. scikit-image `filters.threshold_otsu`.
    public static func otsu(_ hist: Histogram) -> Double {
        let counts = hist.counts.map(Double.init), centers = hist.binCenters
        let n = counts.count
        if n == 1 { return centers[0] }
        var w1 = [Double](repeating: 0, count: n), m1 = w1
        var cw = 0.0, cm = 0.0
        for i in 0..<n {
            cw += counts[i]
            cm += counts[i] * centers[i]
            w1[i] = cw
            m1[i] = cm / cw
        }
        var w2 = [Double](repeating: 0, count: n), m2 = w2
        cw = 0
        cm = 0
        for i in stride(from: n - 1, through: 0, by: -1) {
            cw += counts[i]
            cm += counts[i] * centers[i]
            w2[i] = cw
            m2[i] = cm / cw
        }
        var best = -Double.infinity, index = 0
        for i in 0..<(n - 1) {
            let d = m1[i] - m2[i + 1]
            let v = w1[i] * w2[i + 1] * d * d
            if v > best {
                best = v
                index = i
            }
        }
        return centers[index]
    }

    /// Zack's triangle method: the level farthest from the line joining the histogram's peak to its
    /// far end (good for a small bright or dark population, e.g. sparse nuclei).
    ///
    /// ## References
    /// G. W. Zack, W. E. Rogers, S. A. Latt, "Automatic measurement of sister chromatid exchange
    /// frequency", J. Histochem. Cytochem. 25(7):741–753, 1977, doi:10.1177/25.7.70454.
    /// scikit-image `filters.threshold_triangle`.
    public static func triangle(_ hist: Histogram) -> Double {
        var counts = hist.counts.map(Double.init)
        let n = counts.count
        var peak = 0
        for i in 0..<n where counts[i] > counts[peak] { peak = i }
        let nonzero = counts.indices.filter { counts[$0] > 0 }
        var low = nonzero.first!
        let high = nonzero.last!
        if low == high { return hist.binCenters[low] }
        let flip = peak - low < high - peak
        if flip {
            counts.reverse()
            low = n - high - 1
            peak = n - peak - 1
        }
        var peakHeight = counts[peak]
        var width = Double(peak - low)
        let norm = (peakHeight * peakHeight + width * width).squareRoot()
        peakHeight /= norm
        width /= norm
        var best = -Double.infinity, level = 0
        for x in 0..<(peak - low) {
            let length = peakHeight * Double(x) - width * counts[x + low]
            if length > best {
                best = length
                level = x
            }
        }
        level += low
        if flip { level = n - level - 1 }
        return hist.binCenters[level]
    }

    /// Ridler–Calvard IsoData: the lowest bin centre `t` with `t ≤ (mean below + mean above)/2 < t + bin width`.
    ///
    /// ## References
    /// T. W. Ridler, S. Calvard, "Picture thresholding using an iterative selection method",
    /// IEEE Trans. SMC 8(8):630–632, 1978, doi:10.1109/TSMC.1978.4310039.
    /// scikit-image `filters.threshold_isodata`.
    public static func isodata(_ hist: Histogram) -> Double {
        let counts = hist.counts.map { Double(Float($0)) }, centers = hist.binCenters
        let n = counts.count
        if n == 1 { return centers[0] }
        var csuml = [Double](repeating: 0, count: n), csumIntensity = csuml
        var a = 0.0, b = 0.0
        for i in 0..<n {
            a += counts[i]
            b += counts[i] * centers[i]
            csuml[i] = a
            csumIntensity[i] = b
        }
        let total = csuml[n - 1], totalIntensity = csumIntensity[n - 1]
        let binWidth = centers[1] - centers[0]
        for i in 0..<(n - 1) {
            let lower = csumIntensity[i] / csuml[i]
            let higher = (totalIntensity - csumIntensity[i]) / (total - csuml[i])
            let distance = (lower + higher) / 2 - centers[i]
            if distance >= 0 && distance < binWidth { return centers[i] }
        }
        // scikit-image raises IndexError here; no fixed point exists within one bin.
        return otsu(hist)
    }
}
