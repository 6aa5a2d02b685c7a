import KaryonAnalysis
import Testing

@Suite("Parameter schema validation")
struct ParameterSchemaTests {
    let schema = [
        ParameterSpec("sigma", .number, default: .number(1.5), minimum: 0.1, maximum: 10, unit: "µm", help: "blur"),
        ParameterSpec("levels", .integer, default: .integer(256), minimum: 2, maximum: 65536, help: "grey levels"),
        ParameterSpec("symmetric", .boolean, default: .boolean(true), help: "symmetric"),
        ParameterSpec("mode", .choice(["brightfield", "fluorescence"]), default: .text("brightfield"), help: "mode"),
        ParameterSpec("distances", .integerList, default: .integerList([1]), minimum: 1, maximum: 64, help: "px"),
        ParameterSpec("angles", .numberList, default: .numberList([0, 45, 90, 135]), minimum: 0, maximum: 360, help: "deg"),
    ]

    func code(_ body: () throws -> Void) -> ExtractorError.Code? {
        do { try body(); return nil } catch let e as ExtractorError { return e.code } catch { return nil }
    }

    @Test("defaults fill missing keys, in schema order")
    func defaults() throws {
        let set = try ParameterSet(schema: schema, text: [:], extractor: "x")
        #expect(set.entries.map(\.key) == ["sigma", "levels", "symmetric", "mode", "distances", "angles"])
        #expect(set.number("sigma") == 1.5 && set.integer("levels") == 256 && set.boolean("symmetric"))
        #expect(set.integers("distances") == [1] && set.numbers("angles") == [0, 45, 90, 135])
    }

    @Test("text values parse by type")
    func parsing() throws {
        let set = try ParameterSet(schema: schema, text: [
            "sigma": "2.5", "levels": "32", "symmetric": "false", "mode": "fluorescence", "distances": "1,2, 3", "angles": "0,90",
        ], extractor: "x")
        #expect(set.number("sigma") == 2.5 && set.integer("levels") == 32 && !set.boolean("symmetric"))
        #expect(set.text("mode") == "fluorescence" && set.integers("distances") == [1, 2, 3] && set.numbers("angles") == [0, 90])
    }

    @Test("unknown keys, wrong types, bad choices and out-of-bounds values are refused before running")
    func refusals() {
        #expect(code { _ = try ParameterSet(schema: schema, text: ["sigmaa": "1"], extractor: "x") } == .unknownParameter)
        #expect(code { _ = try ParameterSet(schema: schema, text: ["sigma": "wide"], extractor: "x") } == .invalidParameter)
        #expect(code { _ = try ParameterSet(schema: schema, text: ["sigma": "nan"], extractor: "x") } == .invalidParameter)
        #expect(code { _ = try ParameterSet(schema: schema, text: ["sigma": "11"], extractor: "x") } == .parameterOutOfBounds)
        #expect(code { _ = try ParameterSet(schema: schema, text: ["levels": "1"], extractor: "x") } == .parameterOutOfBounds)
        #expect(code { _ = try ParameterSet(schema: schema, text: ["levels": "2.5"], extractor: "x") } == .invalidParameter)
        #expect(code { _ = try ParameterSet(schema: schema, text: ["symmetric": "maybe"], extractor: "x") } == .invalidParameter)
        #expect(code { _ = try ParameterSet(schema: schema, text: ["mode": "darkfield"], extractor: "x") } == .invalidParameter)
        #expect(code { _ = try ParameterSet(schema: schema, text: ["distances": "1,,2"], extractor: "x") } == .invalidParameter)
        #expect(code { _ = try ParameterSet(schema: schema, text: ["distances": "0"], extractor: "x") } == .parameterOutOfBounds)
        #expect(code { _ = try ParameterSet(schema: schema, given: ["sigma": .text("1")], extractor: "x") } == .invalidParameter)
    }

    @Test("typed values: integers are accepted where numbers are expected")
    func typed() throws {
        let set = try ParameterSet(schema: schema, given: ["sigma": .integer(2), "angles": .integerList([0, 45])], extractor: "x")
        #expect(set.number("sigma") == 2 && set.numbers("angles") == [0, 45])
    }

    @Test("canonical JSON is independent of the order parameters were given in")
    func canonical() throws {
        let a = try ParameterSet(schema: schema, text: ["sigma": "2", "levels": "8"], extractor: "x")
        let b = try ParameterSet(schema: schema, text: ["levels": "8", "sigma": "2.0"], extractor: "x")
        #expect(a.canonicalJSON == b.canonicalJSON)
        #expect(a.canonicalJSON.hasPrefix("{\"angles\":[0,45,90,135],\"distances\":[1],\"levels\":8"))
        let c = try ParameterSet(schema: schema, text: ["levels": "16"], extractor: "x")
        #expect(a.canonicalJSON != c.canonicalJSON)
    }
}
