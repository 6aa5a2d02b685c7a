import Foundation
import Testing
@testable import KaryonServer

@Suite("JSON responses: the writer agrees with JSONSerialization")
struct JSONWriterTests {
    private func text(_ value: Any) throws -> String {
        String(decoding: try JSONWriter.data(value), as: UTF8.self)
    }

    @Test("literal examples: sorted keys, compact, integral doubles without a fraction, escapes")
    func literals() throws {
        #expect(try text(["b": 1, "a": [true, false, NSNull()], "c": 2.5]) == #"{"a":[true,false,null],"b":1,"c":2.5}"#)
        #expect(try text([3.0, -0.0, 0.1, 1e-7, 1e21, 9_007_199_254_740_993.0]) == "[3,0,0.1,1e-07,1e+21,9007199254740992.0]")
        #expect(try text(["q\"\\/\n\r\t\u{08}\u{0C}\u{01}é漢"]) == #"["q\"\\/\n\r\t\b\f\u0001é漢"]"#)
        #expect(try text([String: Any]()) == "{}")
        #expect(try text([Any]()) == "[]")
        #expect(try text(["n": Int64(-5), "u": UInt8(7), "f": Float(1.25)]) == #"{"f":1.25,"n":-5,"u":7}"#)
    }

    @Test("values parsed by JSONSerialization (NSNumber booleans, integers, doubles, big decimals) keep their kind")
    func parsedValues() throws {
        let stored = #"{"t":true,"f":false,"one":1,"zero":0,"neg":-3,"x":1.5,"big":123456789012345678901234567890,"s":"a"}"#
        let object = try JSONSerialization.jsonObject(with: Data(stored.utf8))
        let written = try text(object)
        #expect(written == #"{"big":123456789012345678901234567890,"f":false,"neg":-3,"one":1,"s":"a","t":true,"x":1.5,"zero":0}"#)
    }

    @Test("round trip: random nested values read back through JSONSerialization as they were written")
    func roundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        func value(_ depth: Int) -> Any {
            switch Int.random(in: 0..<(depth > 2 ? 5 : 7), using: &rng) {
            case 0: return Int.random(in: -1_000_000...1_000_000, using: &rng)
            case 1: return Double.random(in: -1e6...1e6, using: &rng) * pow(10, Double(Int.random(in: -12...12, using: &rng)))
            case 2: return Bool.random(using: &rng)
            case 3: return NSNull()
            case 4: return String((0..<Int.random(in: 0...12, using: &rng)).map { _ in
                    Character(Unicode.Scalar([0x22, 0x5C, 0x2F, 0x0A, 0x01, 0x41, 0x7A, 0xE9, 0x6F22].randomElement(using: &rng)!)!) })
            case 5: return (0..<Int.random(in: 0...4, using: &rng)).map { _ in value(depth + 1) }
            default:
                var object: [String: Any] = [:]
                for i in 0..<Int.random(in: 0...4, using: &rng) { object["k\(i)_\(Int.random(in: 0...99, using: &rng))"] = value(depth + 1) }
                return object
            }
        }
        /// Deep equality between what was written and what was read: numbers exactly, booleans
        /// only as booleans.
        func same(_ a: Any, _ b: Any) -> Bool {
            switch a {
            case let x as [String: Any]:
                guard let y = b as? [String: Any], Set(x.keys) == Set(y.keys) else { return false }
                return x.allSatisfy { same($0.value, y[$0.key]!) }
            case let x as [Any]:
                guard let y = b as? [Any], x.count == y.count else { return false }
                return zip(x, y).allSatisfy { same($0, $1) }
            case is NSNull: return b is NSNull
            case let x as String: return b as? String == x
            case let x as Bool where type(of: a) == Bool.self:
                guard let y = b as? NSNumber, String(cString: y.objCType) == "c" else { return false }
                return y.boolValue == x
            case let x as Int where type(of: a) == Int.self: return (b as? NSNumber)?.int64Value == Int64(x)
            // JSONSerialization reads long decimals as NSDecimalNumber, whose doubleValue is
            // inexact; its text is the written number exactly.
            case let x as Double: return (b as? NSNumber).flatMap { Double($0.stringValue) } == x
            default: return false
            }
        }
        for _ in 0..<300 {
            let original = ["v": value(0)]
            let read = try JSONSerialization.jsonObject(with: Data(try JSONWriter.data(original)))
            #expect(same(original, read), "\(original)")
        }
    }

    @Test("non-finite numbers and values without a JSON form are errors")
    func invalid() {
        #expect(throws: JSONWriter.InvalidValue.self) { try JSONWriter.data(["x": Double.nan]) }
        #expect(throws: JSONWriter.InvalidValue.self) { try JSONWriter.data([Double.infinity]) }
        #expect(throws: JSONWriter.InvalidValue.self) { try JSONWriter.data(["d": Date()]) }
    }
}
