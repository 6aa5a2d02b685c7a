/// RGB → HSV as scikit-image 0.26 `rgb2hsv` computes it, for components in 0…1.
///
/// `v = max`, `s = (max − min)/max` (0 when max = min), hue in turns (0 ≤ h < 1):
/// `((g − b)/Δ, 2 + (b − r)/Δ, 4 + (r − g)/Δ)/6 mod 1` for red, green, blue the maximum
/// (blue winning ties over green, green over red, as scikit-image's successive assignments do);
/// 0 when Δ = 0. Callers convert integers as `img_as_float` does: `v · (1 / max)`.
///
/// ## References
/// - A. R. Smith, "Color gamut transform pairs", SIGGRAPH 1978, doi:10.1145/965139.807361.
/// - scikit-image 0.26 `skimage.color.rgb2hsv`.
public enum HSV {
    @inlinable
    public static func fromRGB(_ r: Double, _ g: Double, _ b: Double) -> (h: Double, s: Double, v: Double) {
        let v = max(r, g, b)
        let delta = v - min(r, g, b)
        guard delta != 0 else { return (0, 0, v) }
        let s = delta / v
        var h: Double
        if b == v {
            h = 4 + (r - g) / delta
        } else if g == v {
            h = 2 + (b - r) / delta
        } else {
            h = (g - b) / delta
        }
        // NumPy's float `%`: fmod, then shifted into the divisor's sign.
        h = (h / 6).truncatingRemainder(dividingBy: 1)
        if h < 0 { h += 1 }
        return (h, s, v)
    }
}
