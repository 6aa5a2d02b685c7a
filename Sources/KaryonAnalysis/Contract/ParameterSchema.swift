import Foundation

/// A parameter value as it appears in a schema, a request or a stored result.
public enum ParameterValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    case text(String)
    case integerList([Int])
    case numberList([Double])
    case textList([String])

    public var description: String {
        switch self {
        case .integer(let v): String(v)
        case .number(let v): formatNumber(v)
        case .boolean(let v): String(v)
        case .text(let v): v
        case .integerList(let v): v.map(String.init).joined(separator: ",")
        case .numberList(let v): v.map(formatNumber).joined(separator: ",")
        case .textList(let v): v.joined(separator: ",")
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .boolean(b); return }
        if let i = try? c.decode(Int.self) { self = .integer(i); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .text(s); return }
        if let l = try? c.decode([Int].self) { self = .integerList(l); return }
        if let l = try? c.decode([Double].self) { self = .numberList(l); return }
        if let l = try? c.decode([String].self) { self = .textList(l); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "a parameter is a number, boolean, string or list of numbers")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .integer(let v): try c.encode(v)
        case .number(let v): try c.encode(v)
        case .boolean(let v): try c.encode(v)
        case .text(let v): try c.encode(v)
        case .integerList(let v): try c.encode(v)
        case .numberList(let v): try c.encode(v)
        case .textList(let v): try c.encode(v)
        }
    }
}

/// The kind of a parameter, which fixes how its text form is parsed.
public enum ParameterType: Sendable, Hashable, Codable {
    case integer
    case number
    case boolean
    /// One of a fixed set of strings.
    case choice([String])
    case integerList
    case numberList
    /// A non-empty list of distinct strings from a fixed set.
    case choiceList([String])

    /// Name used in schemas rendered for the CLI, the API and the UI.
    public var name: String {
        switch self {
        case .integer: "integer"
        case .number: "number"
        case .boolean: "boolean"
        case .choice: "choice"
        case .integerList: "integer-list"
        case .numberList: "number-list"
        case .choiceList: "choice-list"
        }
    }
}

/// One entry of an extractor's parameter schema: key, type, default, bounds, unit and help.
public struct ParameterSpec: Sendable, Hashable {
    public var key: String
    public var type: ParameterType
    public var defaultValue: ParameterValue
    /// Inclusive bounds for numbers (every element of a list), when set.
    public var minimum: Double?
    public var maximum: Double?
    public var unit: String?
    public var help: String

    public init(_ key: String, _ type: ParameterType, default defaultValue: ParameterValue,
                minimum: Double? = nil, maximum: Double? = nil, unit: String? = nil, help: String) {
        self.key = key
        self.type = type
        self.defaultValue = defaultValue
        self.minimum = minimum
        self.maximum = maximum
        self.unit = unit
        self.help = help
    }

    /// Parses the text form (`--param id.key=value`): numbers, `true`/`false`, a choice, or a
    /// comma-separated list.
    public func parse(_ text: String, extractor: String) throws -> ParameterValue {
        let t = text.trimmingCharacters(in: .whitespaces)
        func bad(_ what: String) -> ExtractorError {
            ExtractorError(.invalidParameter, "\(extractor).\(key): '\(text)' is not \(what)")
        }
        switch type {
        case .integer:
            guard let v = Int(t) else { throw bad("an integer") }
            return try validate(.integer(v), extractor: extractor)
        case .number:
            guard let v = Double(t), v.isFinite else { throw bad("a finite number") }
            return try validate(.number(v), extractor: extractor)
        case .boolean:
            switch t.lowercased() {
            case "true", "yes", "1", "on": return .boolean(true)
            case "false", "no", "0", "off": return .boolean(false)
            default: throw bad("true or false")
            }
        case .choice:
            return try validate(.text(t), extractor: extractor)
        case .integerList:
            let parts = t.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let values = parts.compactMap { Int($0) }
            guard !parts.isEmpty, values.count == parts.count else { throw bad("a comma-separated list of integers") }
            return try validate(.integerList(values), extractor: extractor)
        case .choiceList:
            let parts = t.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            return try validate(.textList(parts), extractor: extractor)
        case .numberList:
            let parts = t.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let values = parts.compactMap { Double($0) }.filter(\.isFinite)
            guard !parts.isEmpty, values.count == parts.count else { throw bad("a comma-separated list of numbers") }
            return try validate(.numberList(values), extractor: extractor)
        }
    }

    /// Checks a typed value (from JSON, say) against the type and bounds; integers are accepted
    /// where numbers are expected.
    public func validate(_ value: ParameterValue, extractor: String) throws -> ParameterValue {
        let name = "\(extractor).\(key)"
        func mismatch() -> ExtractorError {
            ExtractorError(.invalidParameter, "\(name) must be a \(type.name), got \(value)")
        }
        func check(_ v: Double) throws {
            if let minimum, v < minimum {
                throw ExtractorError(.parameterOutOfBounds, "\(name) = \(formatNumber(v)) is below its minimum \(formatNumber(minimum))\(unitSuffix)")
            }
            if let maximum, v > maximum {
                throw ExtractorError(.parameterOutOfBounds, "\(name) = \(formatNumber(v)) is above its maximum \(formatNumber(maximum))\(unitSuffix)")
            }
        }
        switch (type, value) {
        case (.integer, .integer(let v)):
            try check(Double(v))
            return value
        case (.number, .number(let v)):
            guard v.isFinite else { throw mismatch() }
            try check(v)
            return value
        case (.number, .integer(let v)):
            try check(Double(v))
            return .number(Double(v))
        case (.boolean, .boolean):
            return value
        case (.choice(let options), .text(let v)):
            guard options.contains(v) else {
                throw ExtractorError(.invalidParameter, "\(name) must be one of \(options.joined(separator: ", ")), got '\(v)'")
            }
            return value
        case (.integerList, .integerList(let v)):
            guard !v.isEmpty else { throw ExtractorError(.invalidParameter, "\(name) must not be empty") }
            for x in v { try check(Double(x)) }
            return value
        case (.numberList, .numberList(let v)):
            guard !v.isEmpty, v.allSatisfy(\.isFinite) else { throw ExtractorError(.invalidParameter, "\(name) must be a non-empty list of finite numbers") }
            for x in v { try check(x) }
            return value
        case (.choiceList(let options), .textList(let v)):
            guard !v.isEmpty else { throw ExtractorError(.invalidParameter, "\(name) must not be empty") }
            if let bad = v.first(where: { !options.contains($0) }) {
                throw ExtractorError(.invalidParameter, "\(name): '\(bad)' is not one of \(options.joined(separator: ", "))")
            }
            guard Set(v).count == v.count else { throw ExtractorError(.invalidParameter, "\(name) lists a value twice") }
            return value
        case (.numberList, .integerList(let v)):
            return try validate(.numberList(v.map(Double.init)), extractor: extractor)
        default:
            throw mismatch()
        }
    }

    private var unitSuffix: String { unit.map { " \($0)" } ?? "" }
}

/// Formats a number without a trailing ".0" for integers and with full precision otherwise.
func formatNumber(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
    return "\(v)"
}

/// A complete, validated assignment of every parameter in a schema, in schema order.
public struct ParameterSet: Sendable, Hashable {
    public let entries: [(key: String, value: ParameterValue)]

    public static func == (lhs: ParameterSet, rhs: ParameterSet) -> Bool {
        lhs.entries.map(\.key) == rhs.entries.map(\.key) && lhs.entries.map(\.value) == rhs.entries.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        for e in entries {
            hasher.combine(e.key)
            hasher.combine(e.value)
        }
    }

    /// Resolves `given` against `schema`: unknown keys are refused, missing keys take defaults,
    /// every value is type- and bounds-checked.
    /// - Throws: ``ExtractorError`` naming the offending key and the accepted keys or range.
    public init(schema: [ParameterSpec], given: [String: ParameterValue], extractor: String) throws {
        let known = Set(schema.map(\.key))
        if let unknown = given.keys.sorted().first(where: { !known.contains($0) }) {
            let list = schema.isEmpty ? "it takes no parameters" : "its parameters are \(schema.map(\.key).joined(separator: ", "))"
            throw ExtractorError(.unknownParameter, "\(extractor) has no parameter '\(unknown)'; \(list)")
        }
        entries = try schema.map { spec in
            (spec.key, try spec.validate(given[spec.key] ?? spec.defaultValue, extractor: extractor))
        }
    }

    /// Parses text values (from `--param id.key=value`) and resolves them as above.
    public init(schema: [ParameterSpec], text: [String: String], extractor: String) throws {
        var typed: [String: ParameterValue] = [:]
        for (key, raw) in text {
            guard let spec = schema.first(where: { $0.key == key }) else {
                let list = schema.isEmpty ? "it takes no parameters" : "its parameters are \(schema.map(\.key).joined(separator: ", "))"
                throw ExtractorError(.unknownParameter, "\(extractor) has no parameter '\(key)'; \(list)")
            }
            typed[key] = try spec.parse(raw, extractor: extractor)
        }
        try self.init(schema: schema, given: typed, extractor: extractor)
    }

    public subscript(key: String) -> ParameterValue? { entries.first { $0.key == key }?.value }

    public func integer(_ key: String) -> Int {
        if case .integer(let v)? = self[key] { return v }
        preconditionFailure("parameter \(key) is not an integer in this schema")
    }

    public func number(_ key: String) -> Double {
        switch self[key] {
        case .number(let v)?: return v
        case .integer(let v)?: return Double(v)
        default: preconditionFailure("parameter \(key) is not a number in this schema")
        }
    }

    public func boolean(_ key: String) -> Bool {
        if case .boolean(let v)? = self[key] { return v }
        preconditionFailure("parameter \(key) is not a boolean in this schema")
    }

    public func text(_ key: String) -> String {
        if case .text(let v)? = self[key] { return v }
        preconditionFailure("parameter \(key) is not a choice in this schema")
    }

    public func integers(_ key: String) -> [Int] {
        if case .integerList(let v)? = self[key] { return v }
        preconditionFailure("parameter \(key) is not an integer list in this schema")
    }

    public func texts(_ key: String) -> [String] {
        if case .textList(let v)? = self[key] { return v }
        preconditionFailure("parameter \(key) is not a choice list in this schema")
    }

    public func numbers(_ key: String) -> [Double] {
        if case .numberList(let v)? = self[key] { return v }
        preconditionFailure("parameter \(key) is not a number list in this schema")
    }

    /// Canonical JSON (keys sorted, no spaces), the input of the parameter hash.
    public var canonicalJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let dict = Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.value) })
        return String(decoding: try! encoder.encode(dict), as: UTF8.self)
    }

    /// SHA-256 (hex) of ``canonicalJSON``: the parameter hash in a result's identity.
    public var digest: String { sha256Hex(Array(canonicalJSON.utf8)) }
}
