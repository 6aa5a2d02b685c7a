import Foundation

/// Linear brightness and contrast: `out = contrast · v + brightness · max`, where `max` is the
/// type's nominal maximum (255, 65535 or 1), clamped to the type's range and rounded for integers.
/// `brightness` is a fraction of the range (−1…1), `contrast` a gain (≥ 0; 1 leaves the image as it is).
/// - Throws: ``ImagingError`` for a negative or non-finite contrast or a brightness outside −1…1.
public func adjustBrightnessContrast<P: PixelComponent>(_ image: Image<P>, brightness: Double, contrast: Double) throws -> Image<P> {
    guard contrast >= 0, contrast.isFinite else {
        throw ImagingError(.invalidArgument, "contrast must be a finite gain ≥ 0 (1 = unchanged), got \(contrast)")
    }
    guard (-1...1).contains(brightness) else {
        throw ImagingError(.invalidArgument, "brightness must be a fraction of the range in −1…1, got \(brightness)")
    }
    let offset = Float(brightness * P.nominalMax)
    let gain = Float(contrast)
    return image.map { P(clampingNative: gain * $0.floatValue + offset) }
}

/// Gamma correction as scikit-image's `exposure.adjust_gamma`: `out = gain · (v / max)^gamma · max`.
/// 8-bit input uses scikit-image's lookup table (rounded half to even, capped at 255); 16-bit
/// results are rounded and clamped (scikit-image truncates and can wrap around when gain > 1).
/// - Throws: ``ImagingError`` for a negative gamma or gain.
public func adjustGamma<P: PixelComponent>(_ image: Image<P>, gamma: Double, gain: Double = 1) throws -> Image<P> {
    guard gamma >= 0, gamma.isFinite else { throw ImagingError(.invalidArgument, "gamma must be ≥ 0, got \(gamma)") }
    guard gain >= 0, gain.isFinite else { throw ImagingError(.invalidArgument, "gain must be ≥ 0, got \(gain)") }
    let maxV = P.nominalMax
    if P.sampleType == .float32 {
        return image.map { P(clampingNative: Float(gain * pow($0.doubleValue / maxV, gamma) * maxV)) }
    }
    let lut = (0...Int(maxV)).map { v -> P in
        let x = min((maxV * gain * pow(Double(v) / maxV, gamma)).rounded(.toNearestOrEven), maxV)
        return P(clampingNative: Float(x))
    }
    return image.map { lut[Int($0.doubleValue)] }
}
