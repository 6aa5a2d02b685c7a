import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonPipeline

/// Distinct synthetic IHC fields rendered ahead of a load test (so rendering never competes with
/// the server for the CPU while it is measured): seeds `seed`, `seed + 1`, …, each encoded as PNG
/// (with its pixel size) into a directory, so memory holds none of them.
public struct RenderedFields: Sendable {
    public struct Field: Sendable {
        public var seed: UInt64
        public var path: String
        public var size: Int64
        public var sha256: String
    }

    public var fields: [Field]
    public var seconds: TimeInterval

    /// Renders on every core.
    /// - Parameter onProgress: told how many fields are done (from any thread).
    /// - Throws: ``ExtractorError`` for a spec out of range, ``ClientError/Code/io`` when a file
    ///   cannot be written.
    public static func render(count: Int, side: Int, seed: UInt64, pixelSizeMicrons: Double, into directory: String,
                              onProgress: @escaping @Sendable (Int) -> Void) async throws -> RenderedFields {
        var probe = SyntheticFieldSpec()
        probe.width = side
        probe.height = side
        probe.pixelSizeMicrons = pixelSizeMicrons
        try probe.validate()
        let base = probe
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let started = Date()
        let fields = try await JobRunner.offload {
            let slots = ResultSlots<Field>(count: count)
            DispatchQueue.concurrentPerform(iterations: count) { i in
                let done = slots.set(i, Result {
                    var spec = base
                    spec.seed = seed &+ UInt64(i)
                    let field = try FieldSynthesizer.render(spec)
                    let png = try ImageCodec.encode(.uint8(field.image), as: .png(), pixelSizeMicrons: pixelSizeMicrons)
                    let path = (directory as NSString).appendingPathComponent("field-\(spec.seed).png")
                    guard FileManager.default.createFile(atPath: path, contents: Data(png)) else { throw ClientError(.io, "cannot write \(path)") }
                    return Field(seed: spec.seed, path: path, size: Int64(png.count), sha256: sha256Hex(png))
                })
                onProgress(done)
            }
            return try slots.values()
        }
        return RenderedFields(fields: fields, seconds: Date().timeIntervalSince(started))
    }
}

/// Results written by concurrent iterations, one slot each.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [Result<T, any Error>?]
    private let lock = NSLock()
    private var done = 0

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// Stores one result; returns how many are stored.
    func set(_ index: Int, _ value: Result<T, any Error>) -> Int {
        lock.lock()
        defer { lock.unlock() }
        slots[index] = value
        done += 1
        return done
    }

    func values() throws -> [T] { try slots.map { try $0!.get() } }
}
