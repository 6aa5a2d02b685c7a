/// Luminance of an RGB image with the ITU-R BT.709 weights scikit-image's `rgb2gray` uses:
/// `Y = 0.2125 R + 0.7154 G + 0.0721 B`, on samples normalised to `0...1`.
///
/// - Parameter image: 3 (RGB) or 4 (RGBA, alpha ignored) channels, or 1 channel (returned
///   normalised). Two channels (gray+alpha) return the gray channel normalised.
/// - Returns: a single-channel `Float` image in `0...1` (for `Float` input, in the input's scale).
/// - Complexity: O(pixels).
///
/// ## References
/// - scikit-image `skimage.color.rgb2gray` (0.26).
/// - ITU-R Recommendation BT.709-6 (2015), luma coefficients.
@_specialize(exported: true, where P == UInt8)
@_specialize(exported: true, where P == UInt16)
public func rgbToGray<P: PixelComponent>(_ image: Image<P>) -> Image<Float> {
    if image.channels <= 2 { return (try! image.channel(0)).normalizedFloat() }
    let scale = Float(1 / P.nominalMax)
    let (wr, wg, wb): (Float, Float, Float) = (0.2125 * scale, 0.7154 * scale, 0.0721 * scale)
    let n = image.pixelCount
    let c = image.channels
    let out = image.withUnsafeSamples { src in
        [Float](unsafeUninitializedCapacity: n) { dst, count in
            let d = SharedMutableBuffer(dst.baseAddress!)
            let s = UncheckedSendable(src)
            parallelChunks(n, minimumChunk: 4096) { range in
                for i in range {
                    let p = i * c
                    d[i] = wr * s.value[p].floatValue + wg * s.value[p + 1].floatValue + wb * s.value[p + 2].floatValue
                }
            }
            count = n
        }
    }
    return Image(unchecked: image.width, image.height, 1, out)
}

/// Mean luminance on the image's native scale (0–255 for 8-bit, 0–65535 for 16-bit): the
/// "brightness level" of a field. Alpha is ignored; a gray image's brightness is its mean.
public func brightness<P: PixelComponent>(_ image: Image<P>, mask: Image<UInt8>? = nil) throws -> Double {
    let gray = rgbToGray(image)
    let scale = P.nominalMax
    var sum = 0.0
    var n = 0
    try forEachMasked(gray, mask) { v in sum += Double(v); n += 1 }
    guard n > 0 else { throw ImagingError(.emptyInput, "the mask selects no pixel") }
    return sum / Double(n) * scale
}

/// Calls `body` for every sample of a single-channel image where `mask` is nonzero (all samples
/// without a mask).
/// - Throws: ``ImagingError`` when the mask size differs from the image.
func forEachMasked(_ plane: Image<Float>, _ mask: Image<UInt8>?, _ body: (Float) -> Void) throws {
    if let mask { try checkMask(mask, for: plane.width, plane.height) }
    plane.withUnsafeSamples { p in
        if let mask {
            mask.withUnsafeSamples { m in
                for i in 0..<p.count where m[i] != 0 { body(p[i]) }
            }
        } else {
            for v in p { body(v) }
        }
    }
}

/// Checks that `mask` is single-channel and `width` × `height`.
public func checkMask(_ mask: Image<UInt8>, for width: Int, _ height: Int) throws {
    guard mask.channels == 1 else {
        throw ImagingError(.channelCount, "a mask must have one channel (nonzero = inside), got \(mask.channels)")
    }
    guard mask.width == width, mask.height == height else {
        throw ImagingError(.sizeMismatch, "the mask is \(mask.width)×\(mask.height) but the image is \(width)×\(height)")
    }
}
