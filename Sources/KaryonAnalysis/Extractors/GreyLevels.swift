import KaryonImaging

/// The grey image the texture extractors read, prepared as scikit-image users prepare one.
///
/// RGB(A) becomes `img_as_ubyte(rgb2gray(img_as_float(image)))`: BT.709 luminance in float64,
/// then `rint(255·g)` (0 … 255). Gray 8- and 16-bit images keep their values; gray float images
/// keep their values for ``gray(_:extractor:)`` (LBP), or must lie in 0 … 1 and become 8-bit
/// like RGB for the co-occurrence extractors.
enum GreyLevels {
    /// Integer grey levels `< levels` for a co-occurrence matrix, 8-bit whenever `levels` ≤ 256.
    ///
    /// With `quantize` and `levels` below the type's range, an 8-bit value v becomes `v·levels/256`
    /// and a 16-bit one `v·levels/65536` (integer division); otherwise every value must already be
    /// below `levels`.
    /// - Throws: ``ExtractorError`` (`invalidInput`) naming `extractor` when a value is too large.
    static func quantized(_ image: AnyImage, levels: Int, quantize: Bool, extractor: String) throws -> GreyLevelValues {
        switch image {
        case .uint8(let i) where i.colorChannels == 1:
            return .uint8(try fitted(firstChannel(i), range: 256, levels: levels, quantize: quantize, extractor))
        case .uint16(let i) where i.colorChannels == 1:
            let values = try fitted(firstChannel(i), range: 65536, levels: levels, quantize: quantize, extractor)
            return levels <= 256 ? .uint8(values.map { UInt8(truncatingIfNeeded: $0) }) : .uint16(values)
        case .uint8(let i):
            return .uint8(try fitted(ubyteGray(i), range: 256, levels: levels, quantize: quantize, extractor))
        case .uint16(let i):
            return .uint8(try fitted(ubyteGray(i), range: 256, levels: levels, quantize: quantize, extractor))
        case .float32(let i):
            return .uint8(try fitted(try ubyteGray(i, extractor), range: 256, levels: levels, quantize: quantize, extractor))
        }
    }

    /// `values` (in 0 ..< `range`) brought below `levels`: divided down with `quantize`, else checked.
    static func fitted<V: FixedWidthInteger & UnsignedInteger>(
        _ values: [V], range: Int, levels: Int, quantize: Bool, _ extractor: String
    ) throws -> [V] {
        guard levels < range else { return values }
        if quantize {
            return values.map { V(truncatingIfNeeded: Int($0) * levels / range) }
        }
        if let m = values.max(), Int(m) >= levels {
            throw ExtractorError(
                .invalidInput,
                "\(extractor): the image has grey level \(m) but levels is \(levels); raise levels above \(m) or turn quantize on")
        }
        return values
    }

    /// Channel 0 of a gray (or gray + alpha) integer image, in one pass.
    static func firstChannel<P: PixelComponent & FixedWidthInteger>(_ image: Image<P>) -> [P] {
        let c = image.channels
        if c == 1 { return image.pixels }
        return image.withUnsafeSamples { s in
            [P](unsafeUninitializedCapacity: image.pixelCount) { out, count in
                for k in 0..<image.pixelCount { out[k] = s[k * c] }
                count = image.pixelCount
            }
        }
    }

    /// The single grey channel LBP reads: gray images as they are (8-bit 0–255, 16-bit 0–65535,
    /// float as stored; LBP refuses non-finite values), RGB(A) as 8-bit luminance.
    static func gray(_ image: AnyImage, extractor: String) throws -> AnyImage {
        func ubyte(_ width: Int, _ height: Int, _ samples: [UInt8]) throws -> AnyImage {
            .uint8(try Image(width: width, height: height, channels: 1, pixels: samples))
        }
        switch image {
        case .uint8(let i) where i.colorChannels == 1: return .uint8(try i.channel(0))
        case .uint16(let i) where i.colorChannels == 1: return .uint16(try i.channel(0))
        case .float32(let i) where i.colorChannels == 1: return .float32(try i.channel(0))
        case .uint8(let i): return try ubyte(i.width, i.height, ubyteGray(i))
        case .uint16(let i): return try ubyte(i.width, i.height, ubyteGray(i))
        case .float32(let i): return try ubyte(i.width, i.height, try ubyteGray(i, extractor))
        }
    }

    /// scikit-image `img_as_ubyte(rgb2gray(img_as_float(image)))`: float64 luminance, `rint(255·g)`,
    /// for integer samples. v / max comes from a table, the very `Double` the division gives.
    /// On a 2048² RGB field the `glcm` extractor, mostly this conversion, took 26–42 ms with a
    /// division per sample and `rounded(.toNearestOrEven)`, 23–31 ms this way in runs interleaved
    /// with those, and 17–24 ms in later runs with the luminance check of float input added.
    static func ubyteGray<P: PixelComponent & FixedWidthInteger>(_ image: Image<P>) -> [UInt8] {
        let unit = P.self == UInt8.self ? unit8 : unit16
        return luminance(image) { unit[Int($0)] }.gray
    }

    /// As ``ubyteGray(_:)`` for float samples, whose luminance must lie in 0 … 1.
    /// - Throws: ``ExtractorError`` (`invalidInput`) naming `extractor` for a luminance outside 0 … 1.
    static func ubyteGray(_ image: Image<Float>, _ extractor: String) throws -> [UInt8] {
        let (gray, outside) = luminance(image) { Double($0) }
        if let outside {
            throw ExtractorError(.invalidInput, "\(extractor): float images must lie in 0…1 (found \(outside)); rescale first")
        }
        return gray
    }

    /// `rint(255·g)` clamped to 0 … 255, g the sample (gray) or `0.2125 r + 0.7154 g + 0.0721 b`,
    /// each sample read through `unit`; and the first g outside 0 … 1 (± 1e-12), if any.
    @inline(__always)
    static func luminance<P: PixelComponent>(_ image: Image<P>, _ unit: (P) -> Double) -> (gray: [UInt8], outside: Double?) {
        let c = image.channels, n = image.pixelCount, colour = image.colorChannels > 1
        var outside: Double?
        let gray = image.withUnsafeSamples { s in
            [UInt8](unsafeUninitializedCapacity: n) { out, count in
                for i in 0..<n {
                    let g = colour ? unit(s[i * c]) * 0.2125 + unit(s[i * c + 1]) * 0.7154 + unit(s[i * c + 2]) * 0.0721
                                   : unit(s[i * c])
                    if !(g >= -1e-12 && g <= 1 + 1e-12) { outside = outside ?? g }
                    // rint for 0 ≤ y < 2⁵² (and 0 just below 0): adding and removing 2⁵² rounds half
                    // to even in the default rounding mode, where `rounded(.toNearestOrEven)` is a
                    // library call on baseline x86-64.
                    let y = g * 255
                    out[i] = UInt8(max(0, min(255, (y + 0x1p52) - 0x1p52)))
                }
                count = n
            }
        }
        return (gray, outside)
    }

    /// v / 255 and v / 65535 for every 8- and 16-bit sample value.
    static let unit8: [Double] = (0...255).map { Double($0) / 255 }
    static let unit16: [Double] = (0...65535).map { Double($0) / 65535 }
}

extension ExtractionInput {
    /// The mask's samples (nonzero = inside), or nil without a mask.
    /// - Throws: ``ExtractorError`` (`invalidInput`) naming `extractor` for a mask of the wrong
    ///   size or channel count, or one that selects no pixel.
    func maskSamples(_ extractor: String) throws -> [UInt8]? {
        guard let mask else { return nil }
        do {
            try checkMask(mask, for: image.width, image.height)
        } catch let e as ImagingError {
            throw ExtractorError(.invalidInput, "\(extractor): \(e.message)")
        }
        let samples = mask.pixels
        guard samples.contains(where: { $0 != 0 }) else {
            throw ExtractorError(.invalidInput, "\(extractor): the mask selects no pixel; give a mask with nonzero pixels")
        }
        return samples
    }
}
