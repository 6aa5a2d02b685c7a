import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Progress on standard error: one line redrawn in place (at most ten times a second) when
/// stderr is a terminal, otherwise a plain line every few seconds, so logs stay readable.
/// Notes (a rejected file, a phase change) are printed above the progress line.
final class ProgressLine: @unchecked Sendable {
    let isTerminal: Bool
    let interval: TimeInterval
    private let lock = NSLock()
    private var current = ""
    /// Whether `current` is what the terminal or log shows last.
    private var shown = true
    private var lastDraw = Date.distantPast

    init(plainInterval: TimeInterval = 5) {
        isTerminal = isatty(STDERR_FILENO) == 1
        interval = isTerminal ? 0.1 : plainInterval
    }

    /// Shows `text` as the progress (throttled unless `force`).
    func update(_ text: String, force: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        current = text
        shown = false
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= interval else { return }
        lastDraw = now
        shown = true
        write(isTerminal ? "\r\u{1B}[2K" + text : text + "\n")
    }

    /// Prints a line of its own.
    func note(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        write(isTerminal ? "\r\u{1B}[2K" + line + "\n" + current : line + "\n")
    }

    /// Ends the progress: the last state stays visible on a line of its own.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard !current.isEmpty else { return }
        if isTerminal {
            write("\r\u{1B}[2K" + current + "\n")
        } else if !shown {
            write(current + "\n")
        }
        current = ""
        shown = true
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// `12.3 MB`, `850 kB`, `512 B` (decimal units).
func byteText(_ bytes: Int64) -> String {
    let b = Double(bytes)
    if b >= 1e9 { return String(format: "%.2f GB", b / 1e9) }
    if b >= 1e6 { return String(format: "%.1f MB", b / 1e6) }
    if b >= 1e3 { return String(format: "%.0f kB", b / 1e3) }
    return "\(bytes) B"
}
