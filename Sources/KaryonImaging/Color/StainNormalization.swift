// Stain normalisation: making slides stained and scanned in different labs look alike before
// they are measured or compared.
//
// - Macenko (StainNormalization+Macenko.swift): estimates two stain OD vectors and the stains'
//   robust maximum amounts per image, then re-renders the image with a target's vectors and
//   amounts. Follows torchstain 1.4.1's numpy `MacenkoNormalizer`.
// - Reinhard (StainNormalization+Reinhard.swift): matches per-channel mean and standard deviation
//   in CIE L*a*b*. Follows torchstain 1.4.1's numpy `ReinhardNormalizer`.
//
// This file holds what both share: input checks, NumPy's percentile and a 3×3 symmetric eigensolver.

/// Checks that `image` is RGB or RGBA and `mask`, when given, matches it; returns the mask's
/// samples (nonzero = use the pixel) or nil.
func normalizationInputs(_ image: Image<UInt8>, mask: Image<UInt8>?, for operation: String) throws -> [UInt8]? {
    guard image.channels == 3 || image.channels == 4 else {
        throw ImagingError(
            .channelCount,
            "\(operation) needs an RGB (or RGBA) image, got \(image.channels) channel(s); stain colour cannot be normalised in a gray image")
    }
    guard let mask else { return nil }
    try checkMask(mask, for: image.width, image.height)
    return mask.pixels
}

/// The `p`-th percentile (0…100) of `values` as NumPy's `np.percentile` computes it by default
/// (method "linear": virtual index `(n − 1)·p/100`, NumPy's `_lerp` between its neighbours).
/// Reorders `values`; O(n) expected (quickselect), O(n log n) at worst.
func numpyPercentile(_ values: inout [Double], _ p: Double) -> Double {
    let n = values.count
    precondition(n > 0, "percentile of no values")
    let q = p / 100
    // NumPy: n·q + (α + q·(1 − α − β)) − 1 with α = β = 1.
    let virtual = Double(n) * q + (1 + q * (1 - 1 - 1)) - 1
    if virtual <= 0 { return selectKth(&values, 0) }
    if virtual >= Double(n - 1) { return selectKth(&values, n - 1) }
    let below = Int(virtual.rounded(.down))
    let a = selectKth(&values, below)
    // After selection every value right of `below` is ≥ a; the next order statistic is their minimum.
    var b = values[below + 1]
    for i in (below + 2)..<n where values[i] < b { b = values[i] }
    let t = virtual - Double(below)
    let diff = b - a
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t
}

/// Moves the `k`-th smallest value (0-based) to index `k`, smaller ones before it and larger ones
/// after it, and returns it. Quickselect with a median-of-three pivot; falls back to sorting the
/// remaining range when partitioning stops shrinking it fast enough.
func selectKth(_ values: inout [Double], _ k: Int) -> Double {
    var lo = 0, hi = values.count - 1
    var budget = 2 * (Int.bitWidth - values.count.leadingZeroBitCount) + 8
    values.withUnsafeMutableBufferPointer { v in
        while hi > lo {
            if budget == 0 {
                v[lo...hi].sort()
                return
            }
            budget -= 1
            let mid = lo + (hi - lo) / 2
            if v[mid] < v[lo] { v.swapAt(mid, lo) }
            if v[hi] < v[lo] { v.swapAt(hi, lo) }
            if v[hi] < v[mid] { v.swapAt(hi, mid) }
            let pivot = v[mid]
            var i = lo, j = hi
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j {
                    v.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            // Now v[lo...j] ≤ pivot ≤ v[i...hi], and v[j+1..<i] == pivot.
            if k <= j {
                hi = j
            } else if k >= i {
                lo = i
            } else {
                return
            }
        }
    }
    return values[k]
}

/// Eigenvalues (ascending) and unit eigenvectors of a symmetric 3×3 matrix by cyclic Jacobi
/// rotations, accurate to a few ulps for the covariance matrices stain estimation produces.
/// `vectors[k]` is the eigenvector of `values[k]`; its sign is whatever the rotations left and is
/// for the caller to fix.
func symmetricEigen3(_ matrix: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
    var a = matrix
    var v: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    for _ in 0..<64 {
        let off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2]
        if off == 0 { break }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            let apq = a[p][q]
            if apq == 0 { continue }
            // Negligible next to both diagonal entries: set it to zero (Numerical Recipes' `jacobi`).
            let g = 100 * abs(apq)
            if abs(a[p][p]) + g == abs(a[p][p]) && abs(a[q][q]) + g == abs(a[q][q]) {
                a[p][q] = 0
                a[q][p] = 0
                continue
            }
            let theta = (a[q][q] - a[p][p]) / (2 * apq)
            let t = theta.magnitude > 1e150
                ? 1 / (2 * theta)
                : (theta < 0 ? -1.0 : 1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
            let c = 1 / (t * t + 1).squareRoot()
            let s = t * c
            for k in 0..<3 {
                let (akp, akq) = (a[k][p], a[k][q])
                a[k][p] = c * akp - s * akq
                a[k][q] = s * akp + c * akq
            }
            for k in 0..<3 {
                let (apk, aqk) = (a[p][k], a[q][k])
                a[p][k] = c * apk - s * aqk
                a[q][k] = s * apk + c * aqk
            }
            a[p][q] = 0
            a[q][p] = 0
            for k in 0..<3 {
                let (vkp, vkq) = (v[k][p], v[k][q])
                v[k][p] = c * vkp - s * vkq
                v[k][q] = s * vkp + c * vkq
            }
        }
    }
    let order = [0, 1, 2].sorted { a[$0][$0] < a[$1][$1] }
    return (order.map { a[$0][$0] }, order.map { k in [v[0][k], v[1][k], v[2][k]] })
}
