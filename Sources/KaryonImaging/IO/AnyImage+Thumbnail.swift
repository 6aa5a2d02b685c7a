extension AnyImage {
    /// An 8-bit preview whose longer side is at most `maxSide` pixels (never enlarged): 16-bit
    /// samples are scaled by 255/65535, float samples clamped to 0…1 and scaled by 255, rounded.
    /// Alpha is kept. For image lists and overlays, not for measurement.
    /// - Throws: ``ImagingError`` when `maxSide` < 1; ``ImageIOError`` when resampling fails.
    public func thumbnail(maxSide: Int) throws -> Image<UInt8> {
        guard maxSide >= 1 else { throw ImagingError(.invalidArgument, "thumbnail size must be at least 1, got \(maxSide)") }
        let scale = min(1.0, Double(maxSide) / Double(max(width, height)))
        let w = max(1, Int((Double(width) * scale).rounded()))
        let h = max(1, Int((Double(height) * scale).rounded()))
        switch self {
        case .uint8(let image):
            return scale < 1 ? try image.resized(width: w, height: h) : image
        case .uint16(let image):
            let small = scale < 1 ? try image.resized(width: w, height: h) : image
            return small.map { UInt8((Double($0) * 255 / 65535).rounded()) }
        case .float32(let image):
            let small = scale < 1 ? try image.resized(width: w, height: h) : image
            return small.map { $0.isNaN ? 0 : UInt8((Double(Swift.min(Swift.max($0, 0), 1)) * 255).rounded()) }
        }
    }
}
