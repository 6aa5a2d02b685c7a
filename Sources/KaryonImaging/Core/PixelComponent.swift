/// A sample type an ``Image`` can store: `UInt8`, `UInt16` or `Float`.
///
/// Integer samples have their nominal range `0...max` (255 or 65535); `Float` samples are nominally
/// in `0...1`, as scikit-image's `img_as_float` produces. ``normalized`` maps a sample to that
/// `0...1` scale, which is how every algorithm that follows scikit-image reads its input.
public protocol PixelComponent: Sendable, Hashable, Comparable {
    /// The storage kind, for code that must switch on it (codecs, JSON).
    static var sampleType: SampleType { get }
    /// 255 for `UInt8`, 65535 for `UInt16`, 1 for `Float`.
    static var nominalMax: Double { get }
    static var zero: Self { get }
    /// The sample as a `Double`, in native units (0–255, 0–65535, or the float value).
    var doubleValue: Double { get }
    /// The sample as a `Float`, in native units.
    var floatValue: Float { get }
    /// Converts a native-unit value, rounding half away from zero and clamping to the type's range
    /// (integers) or passing it through (`Float`).
    init(clampingNative value: Float)
}

/// The three sample types Karyon stores.
public enum SampleType: String, Sendable, Codable, CaseIterable {
    case uint8
    case uint16
    case float32

    /// Bits per sample.
    public var bitDepth: Int {
        switch self {
        case .uint8: 8
        case .uint16: 16
        case .float32: 32
        }
    }
}

extension PixelComponent {
    /// The sample divided by ``nominalMax`` (scikit-image `img_as_float`).
    @inlinable public var normalized: Float { floatValue / Float(Self.nominalMax) }
}

extension UInt8: PixelComponent {
    public static var sampleType: SampleType { .uint8 }
    public static var nominalMax: Double { 255 }
    @inlinable public var doubleValue: Double { Double(self) }
    @inlinable public var floatValue: Float { Float(self) }
    @inlinable public init(clampingNative value: Float) {
        if !(value > 0) { self = 0 } else if value >= 255 { self = 255 } else { self = UInt8(value.rounded()) }
    }
}

extension UInt16: PixelComponent {
    public static var sampleType: SampleType { .uint16 }
    public static var nominalMax: Double { 65535 }
    @inlinable public var doubleValue: Double { Double(self) }
    @inlinable public var floatValue: Float { Float(self) }
    @inlinable public init(clampingNative value: Float) {
        if !(value > 0) { self = 0 } else if value >= 65535 { self = 65535 } else { self = UInt16(value.rounded()) }
    }
}

extension Float: PixelComponent {
    public static var sampleType: SampleType { .float32 }
    public static var nominalMax: Double { 1 }
    @inlinable public var doubleValue: Double { Double(self) }
    @inlinable public var floatValue: Float { self }
    @inlinable public init(clampingNative value: Float) { self = value }
}
