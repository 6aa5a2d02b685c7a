import Foundation
import KaryonImaging

/// Locates and loads the golden files under `Tests/Fixtures/` (see its MANIFEST).
public enum Fixtures {
    /// `Tests/Fixtures` in the source tree.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()  // KaryonTestSupport
        url.deleteLastPathComponent()  // Tests
        return url.appendingPathComponent("Fixtures").path
    }()

    public static func path(_ name: String) -> String { root + "/" + name }

    /// The root of the source tree (the folder holding `Package.swift`).
    public static var repositoryRoot: String {
        URL(fileURLWithPath: root).deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Decodes a fixture image with Karyon's codec.
    public static func image(_ name: String) throws -> AnyImage {
        try ImageCodec.decode(file: path(name))
    }

    public static func rgb8(_ name: String) throws -> Image<UInt8> {
        guard case .uint8(let i) = try image(name) else { throw FixtureError("\(name) is not 8-bit") }
        return i
    }

    /// Loads `expected.json` of a fixture folder.
    public static func expected(_ folder: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(folder + "/expected.json")))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureError("expected.json is not an object")
        }
        return object
    }

    /// Loads a little-endian float64 C-order `.npy` (NumPy format 1.0/2.0) as shape and values.
    public static func npy(_ name: String) throws -> (shape: [Int], values: [Double]) {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
        guard bytes.count > 10, bytes[0] == 0x93, String(decoding: bytes[1..<6], as: UTF8.self) == "NUMPY" else {
            throw FixtureError("\(name) is not an .npy file")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '<f8'"), header.contains("'fortran_order': False") else {
            throw FixtureError("\(name): only little-endian float64 C-order arrays are supported: \(header)")
        }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw FixtureError("\(name): no shape in header")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        let count = shape.reduce(1, *)
        let start = headerStart + headerLength
        guard bytes.count - start == count * 8 else { throw FixtureError("\(name): expected \(count) values") }
        var values = [Double](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start...])) }
        }
        return (shape, values)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The largest absolute difference between `actual` and `expected` where they differ by more than
/// `absolute + relative·|expected|`, or nil when every element is within tolerance. One helper for
/// every float comparison in the suite.
public func firstMismatch(_ actual: [Double], _ expected: [Double], absolute: Double, relative: Double = 0) -> String? {
    guard actual.count == expected.count else { return "count \(actual.count) ≠ \(expected.count)" }
    var worst = 0.0, worstIndex = -1
    for i in actual.indices {
        let d = abs(actual[i] - expected[i])
        if !(d <= absolute + relative * abs(expected[i])) && (d > worst || worstIndex < 0 || d.isNaN) {
            worst = d
            worstIndex = i
        }
    }
    guard worstIndex >= 0 else { return nil }
    return "index \(worstIndex): \(actual[worstIndex]) vs \(expected[worstIndex]) (|Δ| = \(worst))"
}

extension Image {
    /// All samples as `Double`, row-major and interleaved.
    public var doubles: [Double] { pixels.map(\.doubleValue) }
}

/// The code of the ``ImageIOError`` `body` throws, or nil when it throws nothing or something else.
public func ioErrorCode(_ body: () throws -> Void) -> ImageIOError.Code? {
    do {
        try body()
        return nil
    } catch let error as ImageIOError {
        return error.code
    } catch {
        return nil
    }
}

/// A fresh directory under the system's temporary directory, for files a test writes.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("karyon-\(label)-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to `name` inside the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) -> String {
        let file = path + "/" + name
        FileManager.default.createFile(atPath: file, contents: Data(bytes))
        return file
    }
}
