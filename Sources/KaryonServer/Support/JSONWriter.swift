import Foundation

/// Serialises the plain values API responses are built from — `[String: Any]`, `[Any]`,
/// `String`, `Bool`, integers, `Double`, `NSNumber` (as `JSONSerialization` parses stored JSON)
/// and `NSNull` — to compact UTF-8 JSON (RFC 8259) with object keys in byte order.
///
/// It exists because Foundation's `JSONSerialization` with `.sortedKeys` sorts with a localised
/// collation and casts every value dynamically: on an authenticated GET it cost more CPU than
/// the database work. Output is what `JSONSerialization` writes with
/// `[.sortedKeys, .withoutEscapingSlashes]`, except that keys sort by code point, not by a
/// locale. Non-finite numbers and values of other types are errors, as there.
enum JSONWriter {
    struct InvalidValue: Error, CustomStringConvertible {
        let description: String
    }

    static func data(_ value: Any) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        try write(value, into: &out)
        return out
    }

    private static func write(_ value: Any, into out: inout [UInt8]) throws {
        switch value {
        case let s as String:
            string(s, into: &out)
        case let object as [String: Any]:
            out.append(UInt8(ascii: "{"))
            var first = true
            for key in object.keys.sorted() {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                string(key, into: &out)
                out.append(UInt8(ascii: ":"))
                try write(object[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case let array as [Any]:
            out.append(UInt8(ascii: "["))
            for (i, element) in array.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                try write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case is NSNull:
            out.append(contentsOf: "null".utf8)
        case let b as Bool where type(of: value) == Bool.self:
            out.append(contentsOf: (b ? "true" : "false").utf8)
        case let i as Int where type(of: value) == Int.self:
            out.append(contentsOf: String(i).utf8)
        case let d as Double where type(of: value) == Double.self:
            try number(d, into: &out)
        case let n as NSNumber:
            // What JSONSerialization parsed, and every other Swift number (they bridge): booleans
            // are their own class ("c"), floating values "d"/"f", the rest integers (or a decimal
            // too large for one).
            switch String(cString: n.objCType) {
            case _ where n is NSDecimalNumber: out.append(contentsOf: n.stringValue.utf8)
            case "c": out.append(contentsOf: (n.boolValue ? "true" : "false").utf8)
            case "d", "f": try number(n.doubleValue, into: &out)
            default: out.append(contentsOf: n.stringValue.utf8)
            }
        default:
            throw InvalidValue(description: "JSONWriter: a value of type \(type(of: value)) has no JSON form")
        }
    }

    /// Integral values within ±2⁵³ print without a fraction ("3", not "3.0"); others in Swift's
    /// shortest round-tripping form, which is valid JSON ("0.1", "1e-07", "1e+21").
    private static func number(_ d: Double, into out: inout [UInt8]) throws {
        guard d.isFinite else { throw InvalidValue(description: "JSONWriter: \(d) is not a JSON number") }
        if d == d.rounded(), abs(d) < 9_007_199_254_740_992 {
            out.append(contentsOf: String(Int64(d)).utf8)
        } else {
            out.append(contentsOf: d.description.utf8)
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string: `"` and `\` escaped, control characters as `\n`, `\t`… or `\u00XX`;
    /// everything else (including `/` and non-ASCII) as its UTF-8 bytes.
    private static func string(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var start = 0
            for (i, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: bytes[start..<i])
                start = i + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default:
                    out.append(contentsOf: "u00".utf8)
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xF)])
                }
            }
            out.append(contentsOf: bytes[start...])
        }
        out.append(UInt8(ascii: "\""))
    }
}
