import CVipsShim
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads and writes PNG, JPEG and TIFF through libvips, treating every input as untrusted.
///
/// The policy (libvips' checklist for untrusted input): the format is decided from magic bytes and
/// only the PNG, JPEG and TIFF loaders are enabled; libvips operations marked untrusted are
/// blocked; the header is read first and images over ``DecodeOptions/pixelLimit`` are refused
/// before any pixel is decoded; decoding runs with `fail_on = error`, so truncated or corrupt data
/// is an error, never a grey-filled image.
///
/// Decoded samples keep the file's type: 8-bit → `UInt8`, 16-bit → `UInt16`, 32-bit float TIFF →
/// `Float`. Channels are 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA); CMYK JPEG/TIFF is converted
/// to 8-bit RGB with libvips' colour management.
public enum ImageCodec {
    /// The libvips version in use, e.g. "8.14.1".
    public static var libraryVersion: String { String(cString: kv_version()) }

    /// Threads libvips uses to decode or encode one image; 0 = its default (one per core).
    ///
    /// A process that works on several images at once (a worker pool, `karyon analyze --jobs`)
    /// already keeps the cores busy with whole images; libvips' own threads then only add
    /// hand-offs between them (measured on the pipeline bench: 1 thread per image raised
    /// throughput by a fifth). With 1, a decode runs wholly in the calling thread
    /// (``PixelReading/callingThread``): a 512² PNG field took 0.7–1.3 ms less CPU that way in
    /// `karyon loadtest --physical-limit`'s tight loop (two runs each: `intensity` 5.8 and 6.1 ms
    /// before, 5.1 and 5.1 after; `glcm` 6.3 and 6.7 before, 5.4 and 5.5 after).
    /// - Throws: ``ImageIOError/Code/libraryUnavailable`` when libvips cannot start.
    public static func setThreadsPerImage(_ threads: Int) throws {
        var err = ErrorBuffer()
        let rc = err.call { e, n in kv_set_threads(Int32(max(0, threads)), e, n) }
        guard rc == 0 else { throw ImageIOError(.libraryUnavailable, err.message) }
    }

    // MARK: Probing

    /// Reads only the header of the image file at `path`.
    /// - Throws: ``ImageIOError`` (`fileNotFound`, `unsupportedFormat`, `corrupt`, …).
    public static func probe(file path: String, page: Int = 0) throws -> ImageHeader {
        let format = try sniffFile(path)
        let handle = try open(.file(path), format: format, page: page, name: path)
        defer { kv_close(handle) }
        return header(of: handle, format: format)
    }

    /// Reads only the header of an encoded image in memory (`[UInt8]`, `Data`, …; not copied).
    public static func probe(data: some ContiguousBytes, page: Int = 0, name: String = "the image") throws -> ImageHeader {
        try data.withUnsafeBytes { raw in
            let format = try sniffData(raw, name: name)
            let handle = try open(.borrowed(raw), format: format, page: page, name: name)
            defer { kv_close(handle) }
            return header(of: handle, format: format)
        }
    }

    // MARK: Decoding

    /// Decodes the image file at `path`.
    /// - Throws: ``ImageIOError``: missing file, not an image, over the pixel cap, truncated or corrupt.
    public static func decode(file path: String, options: DecodeOptions = .init()) throws -> AnyImage {
        try decode(file: path, options: options, reading: .automatic)
    }

    /// Decodes an encoded image held in memory (an upload, say: `[UInt8]`, `Data`, …; not copied).
    public static func decode(data: some ContiguousBytes, options: DecodeOptions = .init(), name: String = "the image") throws -> AnyImage {
        try decode(data: data, options: options, name: name, reading: .automatic)
    }

    /// Which threads compute the pixels of a decode.
    enum PixelReading: Int32 {
        /// Strip by strip in the calling thread, straight into the result: no thread hand-offs and
        /// no intermediate copy. What a process that decodes several images at once wants.
        case callingThread = 1
        /// libvips' thread pool, which can compute independent tiles (a tiled TIFF) at once.
        case threadPool = 0
        /// The calling thread when libvips is set to one thread per image
        /// (``setThreadsPerImage(_:)``), else the pool.
        case automatic = -1
    }

    static func decode(file path: String, options: DecodeOptions, reading: PixelReading) throws -> AnyImage {
        let format = try sniffFile(path)
        let handle = try open(.file(path), format: format, page: options.page, name: path)
        defer { kv_close(handle) }
        return try decode(handle, format: format, options: options, name: path, reading: reading)
    }

    static func decode(data: some ContiguousBytes, options: DecodeOptions, name: String, reading: PixelReading) throws -> AnyImage {
        try data.withUnsafeBytes { raw in
            let format = try sniffData(raw, name: name)
            let handle = try open(.borrowed(raw), format: format, page: options.page, name: name)
            defer { kv_close(handle) }
            return try decode(handle, format: format, options: options, name: name, reading: reading)
        }
    }

    // MARK: Encoding

    /// Encodes `image` (1–4 channels) as PNG or TIFF bytes.
    /// - Parameter pixelSizeMicrons: recorded as the file's resolution (PNG pHYs, TIFF tags), so
    ///   ``probe(file:page:)`` and other tools read the physical pixel size back.
    /// - Throws: ``ImageIOError/Code/encodeFailed`` for float samples in PNG or more than 4 channels.
    public static func encode(_ image: AnyImage, as format: EncodeFormat = .png(), pixelSizeMicrons: Double? = nil) throws -> [UInt8] {
        guard (1...4).contains(image.channels) else {
            throw ImageIOError(.encodeFailed, "cannot encode \(image.channels) channels; PNG and TIFF take 1 to 4")
        }
        let saver: Int32
        let compression: Int32
        switch format {
        case .png(let level):
            guard image.sampleType != .float32 else {
                throw ImageIOError(.encodeFailed, "PNG holds 8- or 16-bit samples; write float images as TIFF")
            }
            saver = Int32(KV_SAVE_PNG.rawValue)
            compression = Int32(max(0, min(9, level)))
        case .tiff(let compressed):
            saver = Int32(KV_SAVE_TIFF.rawValue)
            compression = compressed ? 1 : 0
        }
        var ppmm = 0.0
        if let p = pixelSizeMicrons {
            guard p > 0, p.isFinite else {
                throw ImageIOError(.encodeFailed, "pixel size must be a positive number of micrometres, got \(p)")
            }
            ppmm = 1000 / p
        }
        return try image.visit(Encoder(saver: saver, compression: compression, pixelsPerMM: ppmm))
    }

    private struct Encoder: ImageVisitor {
        let saver: Int32
        let compression: Int32
        let pixelsPerMM: Double
        func visit<P: PixelComponent>(_ typed: Image<P>) throws -> [UInt8] {
            try typed.withUnsafeSamples { samples in
                var out: UnsafeMutableRawPointer?
                var length = 0
                var err = ErrorBuffer()
                let rc = err.call { e, n in
                    kv_encode(samples.baseAddress, Int32(typed.width), Int32(typed.height), Int32(typed.channels),
                              sampleCode(P.sampleType), saver, compression, pixelsPerMM, &out, &length, e, n)
                }
                guard rc == 0, let out else {
                    throw ImageIOError(.encodeFailed, "could not encode the image", underlying: err.message)
                }
                defer { kv_free(out) }
                return Array(UnsafeRawBufferPointer(start: out, count: length))
            }
        }
    }

    /// Encodes `image` and writes it to `path` atomically (temporary file, fsync, rename).
    public static func write(_ image: AnyImage, to path: String, as format: EncodeFormat = .png(), pixelSizeMicrons: Double? = nil) throws {
        let bytes = try encode(image, as: format, pixelSizeMicrons: pixelSizeMicrons)
        try AtomicFile.write(bytes, to: path)
    }

    // MARK: Internals

    enum Source {
        case file(String)
        /// Encoded bytes lent to libvips, which reads them lazily: valid until the handle opened
        /// on them is closed (callers open and close within the bytes' `withUnsafeBytes`).
        case borrowed(UnsafeRawBufferPointer)
    }

    static func sampleCode(_ type: SampleType) -> Int32 {
        switch type {
        case .uint8: Int32(KV_SAMPLE_UINT8.rawValue)
        case .uint16: Int32(KV_SAMPLE_UINT16.rawValue)
        case .float32: Int32(KV_SAMPLE_FLOAT32.rawValue)
        }
    }

    static func loaderCode(_ format: ImageFormat) -> Int32 {
        switch format {
        case .png: Int32(KV_LOADER_PNG.rawValue)
        case .jpeg: Int32(KV_LOADER_JPEG.rawValue)
        case .tiff: Int32(KV_LOADER_TIFF.rawValue)
        }
    }

    static func sniffFile(_ path: String) throws -> ImageFormat {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            if e == ENOENT || e == ENOTDIR {
                throw ImageIOError(.fileNotFound, "\(path): no such file; check the path")
            }
            throw ImageIOError(.unreadable, "\(path): cannot open (\(String(cString: strerror(e))))")
        }
        defer { Glibc.close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            throw ImageIOError(.unreadable, "\(path): not a regular file; give an image file")
        }
        var head = [UInt8](repeating: 0, count: 16)
        let n = head.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 16) }
        if n < 0 {
            throw ImageIOError(.unreadable, "\(path): cannot read (\(String(cString: strerror(errno))))")
        }
        return try head.withUnsafeBytes { try sniffData(UnsafeRawBufferPointer(rebasing: $0.prefix(n)), name: path) }
    }

    static func sniffData(_ bytes: UnsafeRawBufferPointer, name: String) throws -> ImageFormat {
        if bytes.isEmpty {
            throw ImageIOError(.unsupportedFormat, "\(name): the file is empty; give a PNG, JPEG or TIFF image")
        }
        guard let format = ImageFormat.sniff(bytes) else {
            let head = bytes.prefix(4).map { String(format2: $0) }.joined(separator: " ")
            throw ImageIOError(
                .unsupportedFormat,
                "\(name): not a PNG, JPEG or TIFF image (it starts with \(head)); convert it to one of those")
        }
        return format
    }

    static func open(_ source: Source, format: ImageFormat, page: Int, name: String) throws -> OpaquePointer {
        guard page >= 0 else {
            throw ImageIOError(.pageOutOfRange, "\(name): page must be 0 or more, got \(page)")
        }
        if page > 0 && format != .tiff {
            throw ImageIOError(.pageOutOfRange, "\(name): only TIFF files have pages; this is \(format.rawValue.uppercased())")
        }
        var handle: OpaquePointer?
        var err = ErrorBuffer()
        let rc: Int32 = err.call { e, n in
            switch source {
            case .file(let path):
                return kv_open_file(path, loaderCode(format), Int32(page), &handle, e, n)
            case .borrowed(let raw):
                return kv_open_buffer(raw.baseAddress, raw.count, loaderCode(format), Int32(page), &handle, e, n)
            }
        }
        guard rc == 0, let handle else {
            if page > 0, let pages = try? probe(source, format: format, name: name).pageCount, page >= pages {
                throw ImageIOError(.pageOutOfRange, "\(name): page \(page) requested but the TIFF has \(pages) page(s) (0-based)")
            }
            throw ImageIOError(
                .corrupt,
                "\(name): the \(format.rawValue.uppercased()) header is corrupt or unreadable; re-export the image",
                underlying: err.message)
        }
        return handle
    }

    private static func probe(_ source: Source, format: ImageFormat, name: String) throws -> ImageHeader {
        let handle = try open(source, format: format, page: 0, name: name)
        defer { kv_close(handle) }
        return header(of: handle, format: format)
    }

    static func header(of handle: OpaquePointer, format: ImageFormat) -> ImageHeader {
        var h = kv_header()
        kv_get_header(handle, &h)
        let sample: SampleType? = switch Int(h.sample) {
        case Int(KV_SAMPLE_UINT8.rawValue): .uint8
        case Int(KV_SAMPLE_UINT16.rawValue): .uint16
        case Int(KV_SAMPLE_FLOAT32.rawValue): .float32
        default: nil
        }
        // libvips stores resolution in pixels per millimetre; 1 px/mm is its "unknown" default.
        var pixelSize: Double?
        if h.xres_ppmm > 1.0001, h.xres_ppmm.isFinite {
            pixelSize = 1000.0 / h.xres_ppmm
        }
        return ImageHeader(
            format: format, width: Int(h.width), height: Int(h.height), channels: Int(h.bands),
            bitDepth: Int(h.bits), sampleType: sample, pageCount: max(1, Int(h.pages)),
            pixelSizeMicrons: pixelSize, isCMYK: h.is_cmyk != 0)
    }

    static func decode(_ handle: OpaquePointer, format: ImageFormat, options: DecodeOptions, name: String,
                       reading: PixelReading) throws -> AnyImage {
        let h = header(of: handle, format: format)
        guard h.width > 0, h.height > 0 else {
            throw ImageIOError(.corrupt, "\(name): the header declares an empty image")
        }
        guard h.width.multipliedReportingOverflow(by: h.height).overflow == false, h.pixelCount <= options.pixelLimit else {
            throw ImageIOError(
                .tooLarge,
                "\(name): \(h.width)×\(h.height) pixels exceeds the limit of \(options.pixelLimit) pixels; "
                    + "tile or downsample the image, or raise the pixel limit")
        }
        var channels = h.channels
        var sample = h.sampleType
        if h.isCMYK {
            channels = h.channels - 1  // CMYK → RGB, CMYKA → RGBA
            sample = .uint8
        }
        guard let sample else {
            throw ImageIOError(
                .unsupportedLayout,
                "\(name): \(h.bitDepth)-bit samples of this kind are not supported; use 8- or 16-bit unsigned or 32-bit float")
        }
        guard (1...4).contains(channels) else {
            throw ImageIOError(.unsupportedLayout, "\(name): \(h.channels) channels are not supported; use gray, RGB or RGBA")
        }
        let count = h.width * h.height * channels
        func fill<P: PixelComponent>(_: P.Type) throws -> Image<P> {
            var err = ErrorBuffer()
            var rc: Int32 = 0
            let samples = [P](unsafeUninitializedCapacity: count) { buffer, initialized in
                rc = err.call { e, n in
                    kv_decode(handle, 1, reading.rawValue, buffer.baseAddress, count * MemoryLayout<P>.stride, e, n)
                }
                if rc != 0 {
                    // Never hand out uninitialised memory: zero it before reporting the error.
                    buffer.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: count * MemoryLayout<P>.stride) {
                        $0.initialize(repeating: 0, count: count * MemoryLayout<P>.stride)
                    }
                }
                initialized = count
            }
            guard rc == 0 else {
                throw ImageIOError(
                    .corrupt,
                    "\(name): the \(format.rawValue.uppercased()) data is truncated or corrupt; re-export or re-upload the image",
                    underlying: err.message)
            }
            return Image(unchecked: h.width, h.height, channels, samples)
        }
        switch sample {
        case .uint8: return .uint8(try fill(UInt8.self))
        case .uint16: return .uint16(try fill(UInt16.self))
        case .float32: return .float32(try fill(Float.self))
        }
    }
}

/// A fixed-size C string buffer for libvips error messages.
struct ErrorBuffer {
    private var bytes = [CChar](repeating: 0, count: 1024)

    mutating func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> Int32 {
        let n = bytes.count
        return bytes.withUnsafeMutableBufferPointer { body($0.baseAddress!, n) }
    }

    var message: String {
        bytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

extension String {
    /// Two-digit hexadecimal of a byte.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}
