import KaryonImaging

/// Per-channel intensity statistics and brightness: the "brightness level, average value of the
/// RGB channels" of a field, a tissue region or one nucleus.
///
/// Columns, for `<c>` = `r`, `g`, `b` (or `gray` for a one-channel image; alpha is ignored):
/// `mean_<c>`, `std_<c>` (population standard deviation, NumPy's `ddof=0`), `min_<c>`, `max_<c>`,
/// then `brightness`. Values are in the image's native units: 0–255 for 8-bit, 0–65535 for 16-bit,
/// the stored value for float. With a mask, only pixels where the mask is nonzero count; with
/// `exclude_above` < 1, pixels brighter than that fraction of full scale (glass) are left out too.
///
/// `brightness` is the mean luminance with scikit-image's `rgb2gray` weights
/// (0.2125 R + 0.7154 G + 0.0721 B, ITU-R BT.709) when `brightness` = `luminance` (default), or the
/// plain average of the channel means when `brightness` = `channel-mean`.
///
/// Integer images are summed exactly in 64-bit integers, so results are bit-exact and independent
/// of pixel order.
public struct IntensityExtractor: Extractor {
    public static let descriptor = ExtractorDescriptor(
        id: "intensity",
        version: "1.0.0",
        summary: "Per-channel mean, standard deviation, minimum, maximum and brightness, optionally inside a mask",
        references: [
            "ITU-R Recommendation BT.709-6, Parameter values for the HDTV standards (2015): luma coefficients",
            "S. van der Walt et al., scikit-image: image processing in Python, PeerJ 2:e453 (2014), doi:10.7717/peerj.453 (rgb2gray)",
        ],
        parameters: [
            ParameterSpec(
                "brightness", .choice(["luminance", "channel-mean"]), default: .text("luminance"),
                help: "luminance: BT.709 weighted mean (scikit-image rgb2gray); channel-mean: average of the R, G, B means"),
            ParameterSpec(
                "exclude_above", .number, default: .number(1), minimum: 0, maximum: 1, unit: "fraction of full scale",
                help: "ignore pixels whose luminance exceeds this fraction of full scale (e.g. 0.9 leaves out bright glass); 1 keeps all"),
        ],
        determinism: .bitExact)

    let brightnessMode: String
    let excludeAbove: Double

    public init(parameters: ParameterSet) throws {
        brightnessMode = parameters.text("brightness")
        excludeAbove = parameters.number("exclude_above")
    }

    static func channelNames(_ colorChannels: Int) -> [String] {
        colorChannels == 1 ? ["gray"] : ["r", "g", "b"]
    }

    public func columns(for layout: InputLayout) -> [FeatureColumn] {
        let unit = layout.sampleType == .float32 ? "intensity" : "\(layout.sampleType.bitDepth)-bit intensity"
        let names = Self.channelNames(layout.colorChannels)
        var columns: [FeatureColumn] = []
        for (stat, help) in [("mean", "mean"), ("std", "population standard deviation"), ("min", "minimum"), ("max", "maximum")] {
            for c in names {
                columns.append(FeatureColumn("\(stat)_\(c)", .number, unit: unit, help: "\(help) of channel \(c)"))
            }
        }
        columns.append(FeatureColumn("brightness", .number, unit: unit, help: "mean brightness (\(brightnessMode))"))
        return columns
    }

    public func extract(_ input: ExtractionInput) throws -> FeatureVector {
        var mask = input.mask
        if excludeAbove < 1 {
            // Keep pixels at or below the luminance limit (and inside the given mask).
            let limit = Float(excludeAbove)
            let luminance = try input.image.visit(LuminanceVisitor())
            let keep = luminance.map { $0 <= limit ? UInt8(1) : 0 }
            if let given = mask {
                guard given.width == keep.width, given.height == keep.height else {
                    throw ExtractorError(.invalidInput, "the mask must be one channel of \(keep.width)×\(keep.height)")
                }
                let g = given.pixels
                var k = keep.pixels
                for i in k.indices where g[i] == 0 { k[i] = 0 }
                mask = try Image(width: keep.width, height: keep.height, channels: 1, pixels: k)
            } else {
                mask = keep
            }
        }
        let stats = try ChannelStatistics.compute(input.image, mask: mask)
        let names = Self.channelNames(input.image.colorChannels)
        var out = FeatureVector()
        for c in names.indices { out.append("mean_\(names[c])", stats[c].mean) }
        for c in names.indices { out.append("std_\(names[c])", stats[c].std) }
        for c in names.indices { out.append("min_\(names[c])", stats[c].min) }
        for c in names.indices { out.append("max_\(names[c])", stats[c].max) }
        let brightness: Double
        if names.count == 1 {
            brightness = stats[0].mean
        } else if brightnessMode == "luminance" {
            brightness = 0.2125 * stats[0].mean + 0.7154 * stats[1].mean + 0.0721 * stats[2].mean
        } else {
            brightness = (stats[0].mean + stats[1].mean + stats[2].mean) / 3
        }
        out.append("brightness", brightness)
        return out
    }
}

/// Normalised luminance (scikit-image `rgb2gray`; gray images as they are), alpha ignored.
private struct LuminanceVisitor: ImageVisitor {
    func visit<P: PixelComponent>(_ image: Image<P>) -> Image<Float> { rgbToGray(image) }
}

/// Mean, population standard deviation, minimum and maximum of each colour channel.
struct ChannelStatistics: Sendable, Equatable {
    var mean: Double
    var std: Double
    var min: Double
    var max: Double

    /// - Throws: ``ExtractorError/Code/invalidInput`` when the mask selects no pixel or has the wrong size.
    static func compute(_ image: AnyImage, mask: Image<UInt8>?) throws -> [ChannelStatistics] {
        if let mask {
            guard mask.width == image.width, mask.height == image.height, mask.channels == 1 else {
                throw ExtractorError(.invalidInput, "the mask must be one channel of \(image.width)×\(image.height)")
            }
        }
        let m = mask?.pixels
        let result: [ChannelStatistics]? = switch image {
        case .uint8(let i): integerStats(i, m)
        case .uint16(let i): integerStats(i, m)
        case .float32(let i): floatStats(i, m)
        }
        guard let result else {
            throw ExtractorError(.invalidInput, "the mask selects no pixel; give a mask with at least one nonzero pixel")
        }
        return result
    }

    private static func integerStats<P: PixelComponent & FixedWidthInteger>(_ image: Image<P>, _ mask: [UInt8]?) -> [ChannelStatistics]? {
        let channels = image.colorChannels
        let stride = image.channels
        var sums = [UInt64](repeating: 0, count: channels)
        var squares = [UInt64](repeating: 0, count: channels)
        var lows = [P](repeating: P.max, count: channels)
        var highs = [P](repeating: P.min, count: channels)
        var n: UInt64 = 0
        image.withUnsafeSamples { s in
            for i in 0..<image.pixelCount {
                if let mask, mask[i] == 0 { continue }
                n += 1
                for c in 0..<channels {
                    let v = s[i * stride + c]
                    let u = UInt64(v)
                    sums[c] &+= u
                    squares[c] &+= u * u
                    if v < lows[c] { lows[c] = v }
                    if v > highs[c] { highs[c] = v }
                }
            }
        }
        guard n > 0 else { return nil }
        return (0..<channels).map { c in
            // Variance from exact integer moments: (n·Σv² − (Σv)²) / n², evaluated without overflow.
            let (sum, sq) = (sums[c], squares[c])
            let mean = Double(sum) / Double(n)
            let numerator = (UInt128(n) * UInt128(sq)) - (UInt128(sum) * UInt128(sum))
            let wide = Double(UInt64(truncatingIfNeeded: numerator >> 64)) * 0x1p64 + Double(UInt64(truncatingIfNeeded: numerator))
            let variance = wide / (Double(n) * Double(n))
            return ChannelStatistics(mean: mean, std: variance.squareRoot(), min: Double(lows[c]), max: Double(highs[c]))
        }
    }

    private static func floatStats(_ image: Image<Float>, _ mask: [UInt8]?) -> [ChannelStatistics]? {
        let channels = image.colorChannels
        let stride = image.channels
        let samples = image.pixels
        var result: [ChannelStatistics] = []
        for c in 0..<channels {
            var n = 0.0, sum = 0.0, low = Double.infinity, high = -Double.infinity
            for i in 0..<image.pixelCount {
                if let mask, mask[i] == 0 { continue }
                let v = Double(samples[i * stride + c])
                n += 1
                sum += v
                low = Swift.min(low, v)
                high = Swift.max(high, v)
            }
            guard n > 0 else { return nil }
            let mean = sum / n
            var deviations = 0.0
            for i in 0..<image.pixelCount {
                if let mask, mask[i] == 0 { continue }
                let d = Double(samples[i * stride + c]) - mean
                deviations += d * d
            }
            result.append(ChannelStatistics(mean: mean, std: (deviations / n).squareRoot(), min: low, max: high))
        }
        return result
    }
}
