import Foundation

/// Intermediate results that several extractors of the same image may need, computed once.
///
/// ``ImageAnalyzer`` gives each image it analyses one of these (``ExtractionInput/shared``), so
/// that, say, `nuclei` and `ki67` configured with the same detection settings segment the image
/// once and each report from that segmentation. The key must capture everything the value depends
/// on besides the input itself (the image, mask and pixel size are fixed for the object's life).
///
/// Extractors running side by side may ask for the same key at once: the first computes, the
/// others wait for its value. A computation that throws is not kept; a waiting extractor then
/// computes it itself (and reports the error in its own name).
public final class SharedWork: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var done: [(key: any Sendable, value: any Sendable)] = []
    private var running: [any Sendable] = []

    public init() {}

    /// The value for `key`, computing it with `compute` unless another caller has or is doing so.
    public func value<Key: Equatable & Sendable, Value: Sendable>(for key: Key, _ compute: () throws -> Value) throws -> Value {
        func matches(_ other: any Sendable) -> Bool { (other as? Key) == key }
        condition.lock()
        while true {
            if let hit = done.first(where: { matches($0.key) }), let value = hit.value as? Value {
                condition.unlock()
                return value
            }
            guard running.contains(where: matches) else { break }
            condition.wait()
        }
        running.append(key)
        condition.unlock()
        let outcome = Result { try compute() }
        condition.lock()
        running.removeAll(where: matches)
        if case .success(let value) = outcome { done.append((key, value)) }
        condition.broadcast()
        condition.unlock()
        return try outcome.get()
    }
}
