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
