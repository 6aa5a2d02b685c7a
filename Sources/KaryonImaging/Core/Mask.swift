/// Checks that `mask` is single-channel and `width` × `height`.
public func checkMask(_ mask: Image<UInt8>, for width: Int, _ height: Int) throws {
    guard mask.channels == 1 else {
        throw ImagingError(.channelCount, "a mask must have one channel (nonzero = inside), got \(mask.channels)")
    }
    guard mask.width == width, mask.height == height else {
        throw ImagingError(.sizeMismatch, "the mask is \(mask.width)×\(mask.height) but the image is \(width)×\(height)")
    }
}
