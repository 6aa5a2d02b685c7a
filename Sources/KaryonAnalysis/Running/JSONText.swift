import Foundation

/// Builds JSON text with keys in the order given (JSONEncoder sorts or scrambles them), so output
/// lines read in the documented order.
public enum JSONText {
    public static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return "\(v)"
    }

    public static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\(string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    public static func array(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }

    public static func value(_ v: FeatureValue) -> String {
        switch v {
        case .number(let d): number(d)
        case .integer(let i): String(i)
        case .text(let s): string(s)
        }
    }

    public static func value(_ v: ParameterValue) -> String {
        switch v {
        case .integer(let i): String(i)
        case .number(let d): number(d)
        case .boolean(let b): b ? "true" : "false"
        case .text(let s): string(s)
        case .integerList(let l): array(l.map(String.init))
        case .numberList(let l): array(l.map(number))
        case .textList(let l): array(l.map(string))
        }
    }

    public static func parameters(_ set: ParameterSet) -> String {
        object(set.entries.map { ($0.key, value($0.value)) })
    }
}

/// Quotes a CSV field when it needs it (RFC 4180).
public func csvField(_ s: String) -> String {
    if s.contains(",") || s.contains("\"") || s.contains("\n") {
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
}
