/// The encoded formats Karyon reads, identified by their magic bytes (never by file extension).
public enum ImageFormat: String, Sendable, Codable, CaseIterable {
    case png
    case jpeg
    case tiff

    /// Identifies the format from the first bytes of a file, or nil when it is none of ours.
    ///
    /// PNG: `89 50 4E 47 0D 0A 1A 0A`; JPEG: `FF D8 FF`; TIFF: `II*\0`, `MM\0*` and BigTIFF
    /// `II+\0`, `MM\0+`.
    public static func sniff<C: Collection>(_ bytes: C) -> ImageFormat? where C.Element == UInt8 {
        let b = Array(bytes.prefix(8))
        if b.count >= 8, b == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return .jpeg }
        if b.count >= 4 {
            if b[0] == 0x49, b[1] == 0x49, b[2] == 0x2A || b[2] == 0x2B, b[3] == 0x00 { return .tiff }
            if b[0] == 0x4D, b[1] == 0x4D, b[2] == 0x00, b[3] == 0x2A || b[3] == 0x2B { return .tiff }
        }
        return nil
    }
}

/// What the header says about an image, read before any pixel is decoded.
public struct ImageHeader: Sendable, Equatable, Codable {
    public var format: ImageFormat
    public var width: Int
    public var height: Int
    /// Samples per pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (or CMYK, converted to RGB on decode).
    public var channels: Int
    /// Bits per sample: 8, 16 or 32 (float).
    public var bitDepth: Int
    public var sampleType: SampleType?
    /// Pages in the file (multi-page TIFF), 1 otherwise.
    public var pageCount: Int
    /// Physical pixel size in micrometres from the file's resolution tags, when present.
    public var pixelSizeMicrons: Double?
    public var isCMYK: Bool

    public var pixelCount: Int { width * height }
}
