import Foundation

/// One feature value as a worker outside Karyon reported it in JSON. Decoding never fails on the
/// value's kind, so that a wrong kind is refused by ``ReportedFeatures/check(_:columns:extractor:)``
/// with a message naming the column rather than by the JSON decoder.
public enum ReportedValue: Decodable, Sendable, Equatable {
    case number(Double)
    case null
    case boolean(Bool)
    case text(String)
    /// An array or an object.
    case structured

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .boolean(b); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .text(s); return }
        self = .structured
    }
}

/// The check a result from outside Karyon passes before it is stored — the counterpart of the
/// runner's check that a built-in extractor produced what it declared
/// (``ConfiguredExtractor/run(_:imageSHA256:)``), for the columns an ``ExternalDescriptor`` declared.
public enum ReportedFeatures {
    /// The stored features JSON for a report: every declared column in declared order, a finite
    /// number or null (a column the worker did not report is null).
    ///
    /// - Throws: ``ExtractorError`` (`outputMismatch`) for more keys than columns, a key that is
    ///   not a declared column, a value that is not a number or null, or a NaN or infinite number.
    ///   The message names the column and says what is accepted.
    public static func check(_ reported: [String: ReportedValue], columns: [String], extractor: String) throws -> String {
        func refuse(_ message: String) -> ExtractorError { ExtractorError(.outputMismatch, "\(extractor): \(message)") }
        guard reported.count <= columns.count else {
            throw refuse("\(reported.count) features reported but \(columns.count) columns declared")
        }
        let declared = Set(columns)
        if let unknown = reported.keys.sorted().first(where: { !declared.contains($0) }) {
            let list = columns.prefix(20).joined(separator: ", ") + (columns.count > 20 ? ", …" : "")
            throw refuse("'\(unknown.prefix(80))' is not a declared column (declared: \(list))")
        }
        var pairs: [(String, String)] = []
        for column in columns {
            switch reported[column] ?? .null {
            case .null:
                pairs.append((column, "null"))
            case .number(let v):
                guard v.isFinite else { throw refuse("'\(column)' is \(v) — report null for a value that cannot be computed") }
                pairs.append((column, JSONText.number(v)))
            case .boolean:
                throw refuse("'\(column)' must be a number or null, got true/false")
            case .text:
                throw refuse("'\(column)' must be a number or null, got a string")
            case .structured:
                throw refuse("'\(column)' must be a number or null, got an array or object")
            }
        }
        return JSONText.object(pairs)
    }
}
