/// An image whose sample type is known only at run time, as a decoder returns it.
public enum AnyImage: Sendable, Equatable {
    case uint8(Image<UInt8>)
    case uint16(Image<UInt16>)
    case float32(Image<Float>)

    public var width: Int { size.width }
    public var height: Int { size.height }
    public var channels: Int { size.channels }

    private var size: (width: Int, height: Int, channels: Int) {
        switch self {
        case .uint8(let i): (i.width, i.height, i.channels)
        case .uint16(let i): (i.width, i.height, i.channels)
        case .float32(let i): (i.width, i.height, i.channels)
        }
    }

    public var sampleType: SampleType {
        switch self {
        case .uint8: .uint8
        case .uint16: .uint16
        case .float32: .float32
        }
    }

    /// Calls `visitor` with the typed image.
    public func visit<V: ImageVisitor>(_ visitor: V) throws -> V.Result {
        switch self {
        case .uint8(let image): try visitor.visit(image)
        case .uint16(let image): try visitor.visit(image)
        case .float32(let image): try visitor.visit(image)
        }
    }

    /// Samples on the `0...1` scale as `Float` (scikit-image `img_as_float`).
    public func normalizedFloat() -> Image<Float> {
        switch self {
        case .uint8(let image): image.normalizedFloat()
        case .uint16(let image): image.normalizedFloat()
        case .float32(let image): image.normalizedFloat()
        }
    }

    /// The colour channels without alpha: 1 for gray and gray+alpha, 3 for RGB and RGBA.
    public var colorChannels: Int { channels == 2 || channels == 4 ? channels - 1 : channels }
}

extension Image {
    /// Wraps the typed image as ``AnyImage``.
    public var erased: AnyImage {
        switch self {
        case let image as Image<UInt8>: .uint8(image)
        case let image as Image<UInt16>: .uint16(image)
        case let image as Image<Float>: .float32(image)
        default: fatalError("unsupported pixel type \(Pixel.self)")
        }
    }
}

/// A generic operation over the typed image inside an ``AnyImage`` (Swift has no generic closures).
public protocol ImageVisitor {
    associatedtype Result
    func visit<P: PixelComponent>(_ image: Image<P>) throws -> Result
}

