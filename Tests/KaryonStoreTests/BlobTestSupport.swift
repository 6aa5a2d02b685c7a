import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import KaryonStore

/// A fresh directory under the system temp dir, removed when the value is released.
final class TempDir: @unchecked Sendable {
    let path: String

    init(_ label: String) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("karyon-\(label)-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Every regular file below the directory.
    var files: [String] {
        let base = URL(fileURLWithPath: path)
        let enumerator = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey])!
        return enumerator.compactMap { item -> String? in
            let url = item as! URL
            return (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true ? url.path : nil
        }.sorted()
    }
}

/// SplitMix64: deterministic test bytes from a fixed seed.
struct SeededBytes {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}

/// A UUID fixed by `n`, so failures name the same blob on every run.
func fixedID(_ n: Int) -> UUID {
    UUID(uuidString: String(format: "%08x-0000-4000-8000-%012x", n, n * 7919))!
}

func readFile(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path)!) }

func writeFile(_ path: String, _ bytes: [UInt8]) {
    try! Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// The `StoreError` code `body` throws, or `nil` when it returns.
func errorCode(_ body: () throws -> Any) -> StoreError.Code? {
    do {
        _ = try body()
        return nil
    } catch let error as StoreError {
        return error.code
    } catch {
        return .io
    }
}

func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count, let first = needle.first else { return false }
    var i = 0
    while i + needle.count <= haystack.count {
        if haystack[i] == first, Array(haystack[i..<i + needle.count]) == needle { return true }
        i += 1
    }
    return false
}
