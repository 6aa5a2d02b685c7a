/// A 2-D image with interleaved channels: the value type every Karyon algorithm takes and returns.
///
/// Coordinates follow scikit-image: `x` is the column (0 at the left), `y` the row (0 at the top),
/// and a sample is addressed as `image[x, y, channel]`. Samples are stored row-major and interleaved
/// (`RGBRGB…`), in native units of `Pixel` (see ``PixelComponent``).
///
/// Crops are views: ``cropped(x:y:width:height:)`` shares the parent's storage (copy-on-write), so
/// taking a tile or a nucleus' bounding box costs O(1). ``contiguous()`` makes a compact copy when an
/// algorithm needs one.
public struct Image<Pixel: PixelComponent>: Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// Backing samples, possibly larger than the image when it is a view.
    @usableFromInline var storage: [Pixel]
    /// Index in `storage` of sample (0, 0, 0).
    @usableFromInline let offset: Int
    /// Samples between the starts of two consecutive rows.
    @usableFromInline let rowStride: Int

    /// Wraps `pixels` (row-major, interleaved; exactly `width·height·channels` samples).
    /// - Throws: ``ImagingError`` when the sizes are not positive or the sample count is wrong.
    public init(width: Int, height: Int, channels: Int, pixels: [Pixel]) throws {
        guard width > 0, height > 0, channels > 0 else {
            throw ImagingError(.invalidArgument, "image size must be positive, got \(width)×\(height)×\(channels)")
        }
        guard pixels.count == width * height * channels else {
            throw ImagingError(
                .sizeMismatch,
                "expected \(width)×\(height)×\(channels) = \(width * height * channels) samples, got \(pixels.count)")
        }
        self.init(unchecked: width, height, channels, pixels)
    }

    /// An image filled with one value.
    public init(width: Int, height: Int, channels: Int, repeating value: Pixel) {
        precondition(width > 0 && height > 0 && channels > 0, "image size must be positive")
        self.init(unchecked: width, height, channels, Array(repeating: value, count: width * height * channels))
    }

    @usableFromInline
    init(unchecked width: Int, _ height: Int, _ channels: Int, _ pixels: [Pixel]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.storage = pixels
        self.offset = 0
        self.rowStride = width * channels
    }

    @usableFromInline
    init(view storage: [Pixel], width: Int, height: Int, channels: Int, offset: Int, rowStride: Int) {
        self.width = width
        self.height = height
        self.channels = channels
        self.storage = storage
        self.offset = offset
        self.rowStride = rowStride
    }

    /// Colour channels without alpha: 1 for gray and gray+alpha, 3 for RGB and RGBA.
    @inlinable public var colorChannels: Int { channels == 2 || channels == 4 ? channels - 1 : channels }

    /// Number of pixels (`width · height`).
    @inlinable public var pixelCount: Int { width * height }

    /// True when the samples are stored without gaps, so ``pixels`` needs no copy.
    @inlinable public var isContiguous: Bool {
        offset == 0 && rowStride == width * channels && storage.count == width * height * channels
    }

    /// The sample at column `x`, row `y`, channel `c`.
    @inlinable public subscript(x: Int, y: Int, c: Int) -> Pixel {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height && c >= 0 && c < channels, "sample index out of range")
            return storage[offset + y * rowStride + x * channels + c]
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height && c >= 0 && c < channels, "sample index out of range")
            storage[offset + y * rowStride + x * channels + c] = newValue
        }
    }

    /// The samples row-major and interleaved, copied only when the image is a view.
    public var pixels: [Pixel] { contiguous().storage }

    /// A compact copy of a view, or `self` when already compact.
    public func contiguous() -> Image {
        if isContiguous { return self }
        var out = [Pixel]()
        out.reserveCapacity(width * height * channels)
        let rowLength = width * channels
        storage.withUnsafeBufferPointer { src in
            for y in 0..<height {
                let start = offset + y * rowStride
                out.append(contentsOf: src[start..<(start + rowLength)])
            }
        }
        return Image(unchecked: width, height, channels, out)
    }

    /// A view of the rectangle with top-left corner (`x`, `y`); shares storage with `self`.
    /// - Throws: ``ImagingError`` when the rectangle is empty or leaves the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) throws -> Image {
        guard w > 0, h > 0, x >= 0, y >= 0, x + w <= width, y + h <= height else {
            throw ImagingError(
                .invalidArgument,
                "crop (\(x), \(y), \(w)×\(h)) does not lie inside the \(width)×\(height) image")
        }
        return Image(view: storage, width: w, height: h, channels: channels,
                     offset: offset + y * rowStride + x * channels, rowStride: rowStride)
    }

    /// Calls `body` with the compact sample buffer (row-major, interleaved).
    @inlinable
    public func withUnsafeSamples<R>(_ body: (UnsafeBufferPointer<Pixel>) throws -> R) rethrows -> R {
        if isContiguous { return try storage.withUnsafeBufferPointer(body) }
        return try contiguous().storage.withUnsafeBufferPointer(body)
    }

    /// One channel as a single-channel image.
    @inlinable  // specialised in the caller's module: generic sample copies cost ~7 ns each
    public func channel(_ c: Int) throws -> Image {
        guard c >= 0, c < channels else {
            throw ImagingError(.channelCount, "channel \(c) does not exist in a \(channels)-channel image")
        }
        if channels == 1 { return contiguous() }
        var out = [Pixel](repeating: Pixel.zero, count: width * height)
        storage.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let row = offset + y * rowStride
                    for x in 0..<width { dst[y * width + x] = src[row + x * channels + c] }
                }
            }
        }
        return Image(unchecked: width, height, 1, out)
    }

    /// Stacks single-channel planes of equal size into one interleaved image.
    public static func stacking(_ planes: [Image]) throws -> Image {
        guard let first = planes.first else { throw ImagingError(.emptyInput, "no planes to stack") }
        guard planes.allSatisfy({ $0.width == first.width && $0.height == first.height && $0.channels == 1 }) else {
            throw ImagingError(.sizeMismatch, "planes to stack must all be single-channel and \(first.width)×\(first.height)")
        }
        let n = planes.count
        var out = [Pixel](repeating: Pixel.zero, count: first.pixelCount * n)
        for (c, plane) in planes.enumerated() {
            plane.withUnsafeSamples { src in
                for i in 0..<src.count { out[i * n + c] = src[i] }
            }
        }
        return Image(unchecked: first.width, first.height, n, out)
    }

    /// Applies `transform` to every sample.
    @inlinable
    public func map<T: PixelComponent>(_ transform: (Pixel) throws -> T) rethrows -> Image<T> {
        let out = try withUnsafeSamples { try $0.map(transform) }
        return Image<T>(unchecked: width, height, channels, out)
    }

    /// The samples converted to `Float` on the `0...1` scale (scikit-image `img_as_float`).
    public func normalizedFloat() -> Image<Float> {
        let scale = Float(1 / Pixel.nominalMax)
        if Pixel.self == Float.self { return contiguous() as! Image<Float> }
        return map { $0.floatValue * scale }
    }
}

extension Image: Equatable {
    /// Equal when sizes, channels and every sample match (views compare by content).
    public static func == (lhs: Image, rhs: Image) -> Bool {
        lhs.width == rhs.width && lhs.height == rhs.height && lhs.channels == rhs.channels && lhs.pixels == rhs.pixels
    }
}
