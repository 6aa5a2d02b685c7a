import Foundation
import KaryonAnalysis
import Testing

@Suite("Declared schemas: the JSON form of parameter specs, and external extractors' declarations")
struct ExternalDescriptorTests {
    func declarations(_ json: String) throws -> [ParameterSpec.Declaration] {
        try JSONDecoder().decode([ParameterSpec.Declaration].self, from: Data(json.utf8))
    }

    func code(_ body: () throws -> Void) -> ExtractorError.Code? {
        do { try body(); return nil } catch let e as ExtractorError { return e.code } catch { return nil }
    }

    @Test("every built-in schema survives its own JSON form unchanged", arguments: ExtractorRegistry.standard.descriptors.map(\.id))
    func roundTrip(id: String) throws {
        let descriptor = try ExtractorRegistry.standard.type(for: id).descriptor
        let parsed = try ExternalDescriptor.parameters(fromDescription: descriptor.jsonText, extractor: id)
        #expect(parsed == descriptor.parameters)
    }

    @Test("a literal declaration: integer defaults of numbers become numbers; help and unit are optional")
    func literal() throws {
        let specs = try ParameterSpec.schema(declarations("""
            [{"key": "sigma", "type": "number", "default": 2, "minimum": 0.5, "maximum": 8, "unit": "px"},
             {"key": "mode", "type": "choice", "default": "fast", "choices": ["fast", "exact"], "help": "speed or accuracy"},
             {"key": "angles", "type": "number-list", "default": [0, 90]}]
            """), extractor: "x")
        #expect(specs[0] == ParameterSpec("sigma", .number, default: .number(2), minimum: 0.5, maximum: 8, unit: "px", help: ""))
        #expect(specs[1] == ParameterSpec("mode", .choice(["fast", "exact"]), default: .text("fast"), help: "speed or accuracy"))
        #expect(specs[2].defaultValue == .numberList([0, 90]))
        let set = try ParameterSet(schema: specs, given: ["sigma": .integer(3)], extractor: "x")
        #expect(set.number("sigma") == 3 && set.text("mode") == "fast")
        #expect(code { _ = try ParameterSet(schema: specs, given: ["sigma": .number(9)], extractor: "x") } == .parameterOutOfBounds)
    }

    @Test("schemas that cannot be honoured are refused with the key named",
          arguments: [
              #"[{"key": "a", "type": "float", "default": 1}]"#,
              #"[{"key": "a", "type": "integer", "default": 1.5}]"#,
              #"[{"key": "a", "type": "integer", "default": 0, "minimum": 1}]"#,
              #"[{"key": "a", "type": "number", "default": 1, "minimum": 2, "maximum": 1}]"#,
              #"[{"key": "a", "type": "choice", "default": "x"}]"#,
              #"[{"key": "a", "type": "choice", "default": "z", "choices": ["x", "y"]}]"#,
              #"[{"key": "a", "type": "choice", "default": "x", "choices": ["x", "x"]}]"#,
              #"[{"key": "a", "type": "boolean", "default": true, "choices": ["x"]}]"#,
              #"[{"key": "a", "type": "boolean", "default": true, "minimum": 0}]"#,
              #"[{"key": "A b", "type": "boolean", "default": true}]"#,
              #"[{"key": "a", "type": "boolean", "default": 1}]"#,
              #"[{"key": "a", "type": "boolean", "default": true}, {"key": "a", "type": "integer", "default": 1}]"#,
          ])
    func refused(json: String) throws {
        let error = #expect(throws: ExtractorError.self) { try ParameterSpec.schema(try declarations(json), extractor: "ext") }
        #expect(error?.message.hasPrefix("ext") == true, "\(error?.message ?? "")")
    }

    @Test("a declaration field the schema does not have is a decoding error naming it")
    func unknownField() {
        #expect(throws: DecodingError.self) { try declarations(#"[{"key": "a", "type": "integer", "default": 1, "dflt": 2}]"#) }
    }

    @Test("external declarations: ids, versions, summaries and columns are checked")
    func declarationChecks() throws {
        func make(id: String = "skimage-glcm", version: String = "1.0.0", summary: String = "GLCM",
                  columns: [String] = ["contrast", "energy"]) throws -> ExternalDescriptor {
            try ExternalDescriptor(id: id, version: version, summary: summary, parameters: [], columns: columns)
        }
        let ok = try make()
        #expect(ok.columnsJSON == #"["contrast", "energy"]"#)
        #expect(try ExternalDescriptor.columns(fromJSON: ok.columnsJSON, extractor: ok.id) == ok.columns)
        #expect(try make(version: "2.10.0-rc.1+build.5").version == "2.10.0-rc.1+build.5")
        for id in ["", "Upper", "has space", "dot.ted", String(repeating: "a", count: 65)] {
            #expect(throws: ExtractorError.self, "id \(id)") { try make(id: id) }
        }
        for version in ["1", "1.0", "01.0.0", "1.0.0-", "1.0.0+", "v1.0.0", "1.0.0-rc..1"] {
            #expect(throws: ExtractorError.self, "version \(version)") { try make(version: version) }
        }
        #expect(throws: ExtractorError.self) { try make(summary: "  ") }
        for columns in [[], ["a", "a"], ["1st"], ["a.b"], ["ok", String(repeating: "x", count: 65)],
                        (0...ExternalDescriptor.maxColumns).map { "c\($0)" }] {
            #expect(throws: ExtractorError.self, "columns \(columns.prefix(3))") { try make(columns: columns) }
        }
    }

    @Test("reported values keep their JSON kind: true is not 1, 1 is not true")
    func reportedValues() throws {
        let decoded = try JSONDecoder().decode([String: ReportedValue].self, from: Data(
            #"{"t": true, "one": 1, "x": 1.5, "s": "1", "n": null, "l": [1], "o": {"a": 1}}"#.utf8))
        #expect(decoded == ["t": .boolean(true), "one": .number(1), "x": .number(1.5), "s": .text("1"), "n": .null,
                            "l": .structured, "o": .structured])
    }

    @Test("reported features: declared order, missing columns null, every wrong kind refused with the column named")
    func reportedFeatures() throws {
        let columns = ["b", "a", "c"]
        #expect(try ReportedFeatures.check(["a": .number(0.5), "b": .number(-2)], columns: columns, extractor: "x")
                == #"{"b": -2, "a": 0.5, "c": null}"#)
        let refusals: [([String: ReportedValue], String)] = [
            (["a": .boolean(true)], "'a' must be a number or null, got true/false"),
            (["a": .text("1")], "'a' must be a number or null, got a string"),
            (["c": .structured], "'c' must be a number or null, got an array or object"),
            (["b": .number(.infinity)], "'b' is inf"),
            (["z": .null], "'z' is not a declared column"),
            (["a": .null, "b": .null, "c": .null, "d": .null], "4 features reported but 3 columns declared"),
        ]
        for (reported, message) in refusals {
            let error = #expect(throws: ExtractorError.self) { try ReportedFeatures.check(reported, columns: columns, extractor: "x") }
            #expect(error?.code == .outputMismatch && error?.message.contains(message) == true, "\(error?.message ?? "")")
        }
    }
}
