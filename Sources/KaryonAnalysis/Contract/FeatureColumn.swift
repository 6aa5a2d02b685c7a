/// One output column an extractor declares: name, type and unit.
public struct FeatureColumn: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case number
        case integer
        case text
    }

    public var name: String
    public var kind: Kind
    public var unit: String?
    public var help: String

    public init(_ name: String, _ kind: Kind = .number, unit: String? = nil, help: String) {
        self.name = name
        self.kind = kind
        self.unit = unit
        self.help = help
    }
}

/// One computed feature value.
public enum FeatureValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case number(Double)
    case integer(Int)
    case text(String)

    public var description: String {
        switch self {
        case .number(let v): "\(v)"
        case .integer(let v): String(v)
        case .text(let v): v
        }
    }

    /// The value as a number, when it is one.
    public var doubleValue: Double? {
        switch self {
        case .number(let v): v
        case .integer(let v): Double(v)
        case .text: nil
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .integer(i); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        self = .text(try c.decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let v): try c.encode(v)
        case .integer(let v): try c.encode(v)
        case .text(let v): try c.encode(v)
        }
    }
}

/// Feature values in the order of the declared columns.
public struct FeatureVector: Sendable, Hashable {
    public private(set) var names: [String] = []
    public private(set) var values: [FeatureValue] = []

    public init() {}

    public mutating func append(_ name: String, _ value: FeatureValue) {
        names.append(name)
        values.append(value)
    }

    public mutating func append(_ name: String, _ value: Double) { append(name, .number(value)) }

    public subscript(name: String) -> FeatureValue? {
        names.firstIndex(of: name).map { values[$0] }
    }

    public var count: Int { names.count }
}
