import Foundation

extension ParameterSpec {
    /// The spec as the JSON object every descriptor prints (`karyon extractors --json`,
    /// `GET /api/v1/extractors`): `key`, `type` (``ParameterType/name``), `default`, `choices` (choice
    /// types only), `minimum`, `maximum`, `unit` (null when unset) and `help`.
    public var jsonText: String {
        var pairs: [(String, String)] = [
            ("key", JSONText.string(key)),
            ("type", JSONText.string(type.name)),
            ("default", JSONText.value(defaultValue)),
        ]
        if case .choice(let options) = type { pairs.append(("choices", JSONText.array(options.map(JSONText.string)))) }
        if case .choiceList(let options) = type { pairs.append(("choices", JSONText.array(options.map(JSONText.string)))) }
        pairs.append(("minimum", minimum.map(JSONText.number) ?? "null"))
        pairs.append(("maximum", maximum.map(JSONText.number) ?? "null"))
        pairs.append(("unit", unit.map(JSONText.string) ?? "null"))
        pairs.append(("help", JSONText.string(help)))
        return JSONText.object(pairs)
    }

    /// One entry of a parameter schema in its JSON form (``jsonText``), as a schema author wrote
    /// it: decoding checks only the shape (field names and JSON types); ``ParameterSpec/init(_:extractor:)``
    /// checks the meaning. This is how extractors outside Karyon declare their parameters.
    public struct Declaration: Decodable, Sendable, Equatable {
        public var key: String
        public var type: String
        public var defaultValue: ParameterValue
        public var choices: [String]?
        public var minimum: Double?
        public var maximum: Double?
        public var unit: String?
        public var help: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case key, type, defaultValue = "default", choices, minimum, maximum, unit, help
        }

        public init(from decoder: any Decoder) throws {
            let known = Set(CodingKeys.allCases.map(\.stringValue))
            let given = try decoder.container(keyedBy: NameKey.self).allKeys.map(\.stringValue)
            if let unknown = given.filter({ !known.contains($0) }).sorted().first {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: decoder.codingPath,
                    debugDescription: "unknown field '\(unknown)' (a parameter is {key, type, default, choices, minimum, maximum, unit, help})"))
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            key = try c.decode(String.self, forKey: .key)
            type = try c.decode(String.self, forKey: .type)
            defaultValue = try c.decode(ParameterValue.self, forKey: .defaultValue)
            choices = try c.decodeIfPresent([String].self, forKey: .choices)
            minimum = try c.decodeIfPresent(Double.self, forKey: .minimum)
            maximum = try c.decodeIfPresent(Double.self, forKey: .maximum)
            unit = try c.decodeIfPresent(String.self, forKey: .unit)
            help = try c.decodeIfPresent(String.self, forKey: .help)
        }
    }

    /// Limits on declared schemas: keys are `[a-z][a-z0-9_]*` up to this length, like the built-ins'.
    public static let maxKeyLength = 64

    /// Checks a declaration and builds the spec, the default normalised as ``validate(_:extractor:)``
    /// normalises values (an integer default of a `number` becomes a number).
    ///
    /// - Throws: ``ExtractorError`` (`invalidParameter`, or `parameterOutOfBounds` for a default
    ///   outside its bounds) naming `extractor.key` and saying what is accepted: an unknown type
    ///   name, choices missing on a choice type or given on another, bounds on a non-numeric type,
    ///   a minimum above the maximum, a default of the wrong type.
    public init(_ d: Declaration, extractor: String) throws {
        let name = "\(extractor).\(d.key)"
        func bad(_ message: String) -> ExtractorError { ExtractorError(.invalidParameter, "\(name): \(message)") }
        guard Self.isValidKey(d.key) else {
            throw ExtractorError(.invalidParameter,
                                 "\(extractor): parameter key '\(d.key)' must be 1 to \(Self.maxKeyLength) characters of a-z, 0-9 and _, starting with a letter")
        }
        let choiceTypes = ["choice", "choice-list"]
        if choiceTypes.contains(d.type) {
            guard let choices = d.choices, !choices.isEmpty, choices.count <= 256 else { throw bad("a \(d.type) needs 1 to 256 'choices'") }
            guard Set(choices).count == choices.count else { throw bad("'choices' lists a value twice") }
            guard choices.allSatisfy({ (1...64).contains($0.count) }) else { throw bad("each choice must be 1 to 64 characters") }
        } else if d.choices != nil {
            throw bad("only choice and choice-list parameters take 'choices'")
        }
        let parsed: ParameterType
        switch d.type {
        case "integer": parsed = .integer
        case "number": parsed = .number
        case "boolean": parsed = .boolean
        case "choice": parsed = .choice(d.choices ?? [])
        case "integer-list": parsed = .integerList
        case "number-list": parsed = .numberList
        case "choice-list": parsed = .choiceList(d.choices ?? [])
        default:
            throw bad("unknown type '\(d.type)'; use integer, number, boolean, choice, integer-list, number-list or choice-list")
        }
        let numeric = ["integer", "number", "integer-list", "number-list"].contains(d.type)
        if !numeric, d.minimum != nil || d.maximum != nil { throw bad("only numeric parameters take 'minimum' and 'maximum'") }
        for bound in [d.minimum, d.maximum].compactMap({ $0 }) where !bound.isFinite { throw bad("bounds must be finite numbers") }
        if let lo = d.minimum, let hi = d.maximum, lo > hi { throw bad("'minimum' \(formatNumber(lo)) is above 'maximum' \(formatNumber(hi))") }
        if let unit = d.unit, unit.count > 32 { throw bad("'unit' must be at most 32 characters") }
        if let help = d.help, help.count > 500 { throw bad("'help' must be at most 500 characters") }
        var spec = ParameterSpec(d.key, parsed, default: d.defaultValue, minimum: d.minimum, maximum: d.maximum,
                                 unit: d.unit, help: d.help ?? "")
        do {
            spec.defaultValue = try spec.validate(d.defaultValue, extractor: extractor)
        } catch let error as ExtractorError {
            throw ExtractorError(error.code, "\(error.message) (in the declared default)")
        }
        self = spec
    }

    /// Builds a whole schema from declarations: each checked as above, keys unique, at most 64.
    /// - Throws: ``ExtractorError`` as ``init(_:extractor:)``, or for a repeated key.
    public static func schema(_ declarations: [Declaration], extractor: String) throws -> [ParameterSpec] {
        guard declarations.count <= 64 else {
            throw ExtractorError(.invalidParameter, "\(extractor): at most 64 parameters may be declared")
        }
        var seen = Set<String>()
        for d in declarations where !seen.insert(d.key).inserted {
            throw ExtractorError(.invalidParameter, "\(extractor): parameter '\(d.key)' is declared twice")
        }
        return try declarations.map { try ParameterSpec($0, extractor: extractor) }
    }

    static func isValidKey(_ key: String) -> Bool {
        let scalars = Array(key.unicodeScalars)
        guard (1...maxKeyLength).contains(scalars.count), ("a"..."z").contains(scalars[0]) else { return false }
        return scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}

/// A coding key for any name, to list the keys a JSON object actually has.
struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
