import Foundation
import Testing
@testable import KaryonAnalysis

@Suite("JSON text writers")
struct JSONTextTests {
    @Test("JSONBytes writes integers and numbers exactly as JSONText does, extremes included")
    func bytesMatchText() {
        let integers = [0, 1, -1, 9, 10, -10, 65535, Int(Int32.max), Int(Int32.min), Int.max, Int.min, -Int.max]
        for value in integers {
            var out = JSONBytes(capacity: 0)
            out.append(value)
            #expect(String(decoding: out.bytes, as: UTF8.self) == String(value))
        }
        let numbers: [Double] = [0, -0.0, 1, -1, 0.1, -2.5, 1e15, 1e15 - 1, -1e15 + 1, 123456.789, 1e-300, .pi,
                                 .greatestFiniteMagnitude, .leastNonzeroMagnitude, .nan, .infinity, -.infinity]
        for value in numbers {
            var out = JSONBytes(capacity: 0)
            out.append(value)
            #expect(String(decoding: out.bytes, as: UTF8.self) == JSONText.number(value), "\(value)")
        }
    }

    @Test("strings are escaped only when they need it")
    func strings() throws {
        #expect(JSONText.string("nucleus_area") == "\"nucleus_area\"")
        #expect(JSONText.string("µm² ✓") == "\"µm² ✓\"")
        let tricky = "a\"b\\c\nd\u{1}e"
        #expect(JSONText.string(tricky) == #""a\"b\\c\nd\u0001e""#)
        let parsed = try JSONSerialization.jsonObject(with: Data(JSONText.object([(tricky, "1"), ("x", "[]")]).utf8)) as? [String: Any]
        #expect(parsed?[tricky] as? Int == 1)
        #expect(JSONText.object([]) == "{}")
        #expect(JSONText.object([("a", "1"), ("b", "null")]) == #"{"a": 1, "b": null}"#)
    }
}
