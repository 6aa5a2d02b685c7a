import Foundation
import KaryonPipeline
#if canImport(Glibc)
import Glibc
#endif

/// The worker side of `karyon up`'s wake pipe: the supervising server writes an extractor id
/// and a newline to a worker's standard input when it enqueues jobs of that extractor
/// (``WorkerSupervisor/wake(_:)``); the worker rings that pool's doorbell, so an idle slot
/// claims at once instead of at its next poll. SQLite has no notifications of its own
/// (PostgreSQL's `LISTEN` does this across machines, ``JobWakeups``).
///
/// A hint only: unknown ids and malformed lines are ignored, and a worker that misses a wake-up
/// finds the job at its next poll.
enum WakePipe {
    /// Longest line kept while waiting for its newline (extractor ids are far shorter).
    static let maximumLine = 1024

    /// Reads wake-ups from `descriptor` on a thread of its own until end of file (the
    /// supervisor has gone; the worker's stop signal handles that).
    static func listen(descriptor: Int32 = STDIN_FILENO, pools: [WorkerPool]) {
        let byExtractor = Dictionary(pools.map { ($0.settings.extractor, $0) }, uniquingKeysWith: { a, _ in a })
        let thread = Thread {
            var reader = LineReader()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                for id in reader.lines(after: buffer[0..<n]) { byExtractor[id]?.doorbell.ring() }
            }
        }
        thread.name = "karyon-wake-pipe"
        thread.start()
    }

    /// Splits a byte stream into newline-terminated lines, dropping any line longer than
    /// ``maximumLine``.
    struct LineReader {
        private var pending: [UInt8] = []
        private var discarding = false

        /// The complete lines that `bytes` ends, in order (each id once).
        mutating func lines(after bytes: some Collection<UInt8>) -> [String] {
            var found: [String] = []
            for byte in bytes {
                if byte == UInt8(ascii: "\n") {
                    if !discarding, !pending.isEmpty {
                        let line = String(decoding: pending, as: UTF8.self)
                        if !found.contains(line) { found.append(line) }
                    }
                    pending.removeAll(keepingCapacity: true)
                    discarding = false
                } else if !discarding {
                    pending.append(byte)
                    if pending.count > WakePipe.maximumLine {
                        pending.removeAll(keepingCapacity: true)
                        discarding = true
                    }
                }
            }
            return found
        }
    }
}
