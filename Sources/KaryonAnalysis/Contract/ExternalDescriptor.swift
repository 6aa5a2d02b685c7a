import Foundation

/// What an extractor that runs outside Karyon — a worker in any language speaking the HTTP
/// protocol of `docs/external-workers.md` — declares when it registers: the contract of a built-in
/// extractor (house style §3) without the code. Karyon validates a study's parameters against
/// ``parameters`` when it subscribes, and a worker's results against ``columns`` when it completes
/// a job.
///
/// Example declaration (the JSON of the registration request):
/// ```json
/// {"id": "skimage-glcm", "version": "1.0.0", "summary": "GLCM texture (scikit-image)",
///  "parameters": [{"key": "distance", "type": "integer", "default": 1, "minimum": 1, "maximum": 64,
///                  "unit": "px", "help": "pixel-pair distance"}],
///  "columns": ["contrast", "homogeneity", "energy", "correlation"]}
/// ```
public struct ExternalDescriptor: Sendable, Equatable {
    public static let maxColumns = 512
    public static let maxIDLength = 64

    /// `[a-z0-9_-]`, 1 to 64 characters.
    public let id: String
    /// Semantic version (`MAJOR.MINOR.PATCH`, optional `-pre` and `+build`).
    public let version: String
    public let summary: String
    /// Citations, with DOI where one exists.
    public let references: [String]
    public let parameters: [ParameterSpec]
    /// Output feature names, in output order.
    public let columns: [String]

    /// Checks every part of a declaration.
    /// - Throws: ``ExtractorError`` (`invalidParameter` for the schema, `failed` for the rest) with a
    ///   message that names the field and says what is accepted.
    public init(id: String, version: String, summary: String, references: [String] = [],
                parameters: [ParameterSpec.Declaration], columns: [String]) throws {
        guard Self.isValidID(id) else {
            throw ExtractorError(.failed, "'id' must be 1 to \(Self.maxIDLength) characters of a-z, 0-9, '_' and '-', got '\(id.prefix(80))'")
        }
        guard Self.isSemanticVersion(version) else {
            throw ExtractorError(.failed, "'version' must be a semantic version like 1.0.0 (MAJOR.MINOR.PATCH), got '\(version.prefix(80))'")
        }
        let summary = summary.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...300).contains(summary.count) else { throw ExtractorError(.failed, "'summary' must be 1 to 300 characters") }
        guard references.count <= 20, references.allSatisfy({ (1...500).contains($0.count) }) else {
            throw ExtractorError(.failed, "'references' takes at most 20 citations of 1 to 500 characters")
        }
        guard (1...Self.maxColumns).contains(columns.count) else {
            throw ExtractorError(.failed, "'columns' must name 1 to \(Self.maxColumns) output features")
        }
        if let bad = columns.first(where: { !Self.isValidColumn($0) }) {
            throw ExtractorError(.failed, "column '\(bad.prefix(80))' must be 1 to 64 characters of letters, digits, '_' and '-', starting with a letter")
        }
        var seen = Set<String>()
        if let repeated = columns.first(where: { !seen.insert($0).inserted }) {
            throw ExtractorError(.failed, "column '\(repeated)' is declared twice")
        }
        self.id = id
        self.version = version
        self.summary = summary
        self.references = references
        self.parameters = try ParameterSpec.schema(parameters, extractor: id)
        self.columns = columns
    }

    /// The stored description, in the shape of ``ExtractorDescriptor/jsonText`` (without
    /// `determinism`, which Karyon cannot know for code it does not run).
    public var jsonText: String {
        JSONText.object([
            ("id", JSONText.string(id)),
            ("version", JSONText.string(version)),
            ("summary", JSONText.string(summary)),
            ("references", JSONText.array(references.map(JSONText.string))),
            ("parameters", JSONText.array(parameters.map(\.jsonText))),
        ])
    }

    /// The columns as a JSON array.
    public var columnsJSON: String { JSONText.array(columns.map(JSONText.string)) }

    /// Reads the parameter schema back from a stored description (``jsonText`` or
    /// ``ExtractorDescriptor/jsonText``).
    /// - Throws: ``ExtractorError`` (`failed`) when the text is not such a description.
    public static func parameters(fromDescription text: String, extractor: String) throws -> [ParameterSpec] {
        struct Stored: Decodable { let parameters: [ParameterSpec.Declaration] }
        let stored: Stored
        do {
            stored = try JSONDecoder().decode(Stored.self, from: Data(text.utf8))
        } catch {
            throw ExtractorError(.failed, "the stored description of \(extractor) is unreadable", underlying: "\(error)")
        }
        return try ParameterSpec.schema(stored.parameters, extractor: extractor)
    }

    /// Reads stored columns (``columnsJSON``).
    /// - Throws: ``ExtractorError`` (`failed`) when the text is not a JSON array of names.
    public static func columns(fromJSON text: String, extractor: String) throws -> [String] {
        do {
            return try JSONDecoder().decode([String].self, from: Data(text.utf8))
        } catch {
            throw ExtractorError(.failed, "the stored columns of \(extractor) are unreadable", underlying: "\(error)")
        }
    }

    public static func isValidID(_ id: String) -> Bool {
        (1...maxIDLength).contains(id.unicodeScalars.count)
            && id.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    static func isValidColumn(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        func letter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        guard (1...64).contains(scalars.count), letter(scalars[0]) else { return false }
        return scalars.allSatisfy { letter($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    /// Semantic Versioning 2.0.0: `MAJOR.MINOR.PATCH` without leading zeros, then optional
    /// `-prerelease` and `+build` of dot-separated `[0-9A-Za-z-]` identifiers; at most 64 characters.
    ///
    /// ## References
    /// - T. Preston-Werner, Semantic Versioning 2.0.0, https://semver.org
    static func isSemanticVersion(_ text: String) -> Bool {
        guard (5...64).contains(text.count) else { return false }
        func identifiers(_ s: Substring) -> Bool {
            s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
                !part.isEmpty && part.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "-" }
            }
        }
        var rest = Substring(text)
        if let plus = rest.firstIndex(of: "+") {
            guard identifiers(rest[rest.index(after: plus)...]) else { return false }
            rest = rest[..<plus]
        }
        if let dash = rest.firstIndex(of: "-") {
            guard identifiers(rest[rest.index(after: dash)...]) else { return false }
            rest = rest[..<dash]
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        return core.count == 3 && core.allSatisfy { part in
            !part.isEmpty && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && (part == "0" || part.first != "0")
        }
    }
}
