/// Limits and choices for decoding untrusted images.
public struct DecodeOptions: Sendable, Equatable {
    /// The default pixel cap, 2²⁸ (268,435,456) pixels.
    public static let defaultPixelLimit = 1 << 28

    /// Images whose header declares more pixels than this are refused before decoding.
    public var pixelLimit: Int
    /// Page of a multi-page TIFF (0-based).
    public var page: Int

    public init(pixelLimit: Int = DecodeOptions.defaultPixelLimit, page: Int = 0) {
        self.pixelLimit = pixelLimit
        self.page = page
    }
}

/// How to encode an image.
public enum EncodeFormat: Sendable, Equatable {
    /// PNG with zlib `compression` 0–9; 8- or 16-bit samples.
    case png(compression: Int = 6)
    /// TIFF, deflate-compressed unless `compressed` is false; 8/16-bit or 32-bit float samples.
    case tiff(compressed: Bool = true)
}
