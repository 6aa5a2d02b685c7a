import Foundation

/// Durations on the command line: a number with a unit (`500ms`, `30s`, `20m`, `2h`), several
/// in a row (`1h30m`), or a bare number of seconds.
public enum DurationText {
    /// - Throws: ``ClientError/Code/badInput`` naming `option` and showing the accepted forms.
    public static func parse(_ text: String, option: String) throws -> TimeInterval {
        let bad = ClientError(.badInput, "\(option): '\(text)' is not a duration; use a number with a unit, e.g. 30s, 20m, 2h or 1h30m")
        let s = Array(text.trimmingCharacters(in: .whitespaces).lowercased())
        guard !s.isEmpty else { throw bad }
        if let plain = Double(String(s)) {
            guard plain.isFinite, plain >= 0 else { throw bad }
            return plain
        }
        var total = 0.0
        var i = 0
        while i < s.count {
            let start = i
            while i < s.count, s[i].isNumber || s[i] == "." { i += 1 }
            guard i > start, let value = Double(String(s[start..<i])) else { throw bad }
            let unitStart = i
            while i < s.count, s[i].isLetter { i += 1 }
            let unit: Double
            switch String(s[unitStart..<i]) {
            case "ms": unit = 0.001
            case "s": unit = 1
            case "m", "min": unit = 60
            case "h": unit = 3600
            default: throw bad
            }
            total += value * unit
        }
        guard total.isFinite else { throw bad }
        return total
    }

    /// `2h`, `20m`, `1h30m`, `45s`, `1.5s`, `250ms`.
    public static func format(_ seconds: TimeInterval) -> String {
        guard seconds >= 1 else { return seconds == 0 ? "0s" : "\(Int((seconds * 1000).rounded()))ms" }
        guard seconds == seconds.rounded() else { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds)
        let (h, m, s) = (whole / 3600, whole % 3600 / 60, whole % 60)
        var out = ""
        if h > 0 { out += "\(h)h" }
        if m > 0 { out += "\(m)m" }
        if s > 0 { out += "\(s)s" }
        return out
    }
}
