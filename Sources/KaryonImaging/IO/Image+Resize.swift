import CVipsShim

extension Image {
    /// The image resampled to `width` × `height` with libvips' `vips_resize` (Lanczos3 when
    /// shrinking, bicubic when enlarging; the anti-aliasing libvips does for thumbnails).
    /// - Throws: ``ImagingError`` for non-positive sizes, ``ImageIOError`` when libvips fails.
    public func resized(width newWidth: Int, height newHeight: Int) throws -> Image {
        guard newWidth > 0, newHeight > 0 else {
            throw ImagingError(.invalidArgument, "resize target must be positive, got \(newWidth)×\(newHeight)")
        }
        guard (1...4).contains(channels) else {
            throw ImagingError(.channelCount, "resize takes 1 to 4 channels, got \(channels)")
        }
        let count = newWidth * newHeight * channels
        var err = ErrorBuffer()
        var rc: Int32 = 0
        let out = withUnsafeSamples { src in
            [Pixel](unsafeUninitializedCapacity: count) { dst, initialized in
                rc = err.call { e, n in
                    kv_resize(src.baseAddress, Int32(width), Int32(height), Int32(channels),
                              ImageCodec.sampleCode(Pixel.sampleType), dst.baseAddress,
                              Int32(newWidth), Int32(newHeight), e, n)
                }
                if rc != 0 {
                    dst.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: count * MemoryLayout<Pixel>.stride) {
                        $0.initialize(repeating: 0, count: count * MemoryLayout<Pixel>.stride)
                    }
                }
                initialized = count
            }
        }
        guard rc == 0 else { throw ImageIOError(.encodeFailed, "could not resize the image", underlying: err.message) }
        return Image(unchecked: newWidth, newHeight, channels, out)
    }
}
