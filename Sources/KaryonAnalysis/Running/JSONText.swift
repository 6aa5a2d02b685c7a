import Foundation

/// Builds JSON text with keys in the order given (JSONEncoder sorts or scrambles them), so output
/// lines read in the documented order.
public enum JSONText {
    public static func string(_ s: String) -> String {
        // Most strings (feature and measurement names) need no escaping.
        if !s.utf8.contains(where: { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }) { return "\"" + s + "\"" }
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
        var out = "{"
        out.reserveCapacity(pairs.reduce(2) { $0 + $1.0.utf8.count + $1.1.utf8.count + 6 })
        for (k, (key, value)) in pairs.enumerated() {
            if k > 0 { out += ", " }
            out += string(key)
            out += ": "
            out += value
        }
        out += "}"
        return out
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

/// JSON text written into a byte buffer, for documents too large to build from small strings
/// (``ObjectTable/geoJSONBytes()``). Numbers are written as ``JSONText/number(_:)`` writes them.
struct JSONBytes {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    /// Literal JSON text (already escaped).
    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    /// A decimal integer, without the allocation of `String(value)`.
    mutating func append(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude > 0
            for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(d[i]) }
        }
    }

    /// A number as ``JSONText/number(_:)`` writes it (integral values without a fraction, `null`
    /// for NaN and infinities).
    mutating func append(_ value: Double) {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            append(Int(value))
        } else {
            bytes.append(contentsOf: JSONText.number(value).utf8)
        }
    }
}

/// Quotes a CSV field when it needs it (RFC 4180).
public func csvField(_ s: String) -> String {
    if s.contains(",") || s.contains("\"") || s.contains("\n") {
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
}
