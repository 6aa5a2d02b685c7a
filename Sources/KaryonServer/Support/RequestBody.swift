import Foundation
import Vapor

/// A JSON request body with a closed set of fields. Decoding refuses unknown fields (so `role`,
/// `id` or `password_hash` slipped into a body are an error, not silently ignored — OWASP API3
/// mass assignment), wrong content types, bodies nested deeper than ``JSONBody/maxDepth`` and
/// malformed JSON, each with a message that names the field.
protocol RequestBody: Decodable, Sendable {
    /// The body's fields; the nested `CodingKeys` enum of the conforming type (declared `CaseIterable`).
    associatedtype CodingKeys: CodingKey & CaseIterable
    /// Checks values one by one and together; throws ``APIError`` (400/422) naming the field.
    func validate() throws
}

extension RequestBody {
    func validate() throws {}
    static var fieldNames: [String] { CodingKeys.allCases.map(\.stringValue) }
}

/// Reads and checks JSON request bodies.
enum JSONBody {
    /// Deeper nesting is refused before parsing (a cheap guard against stack-hungry inputs).
    static let maxDepth = 32

    /// The body as a JSON object, after the content-type, size, depth and syntax checks.
    static func object(_ request: Request) throws -> (data: Data, object: [String: Any]) {
        guard let type = request.headers.contentType, type.type == "application", type.subType == "json" else {
            throw APIError.unsupportedMediaType("application/json")
        }
        guard let buffer = request.body.data, buffer.readableBytes > 0 else {
            throw APIError.badRequest("The request needs a JSON object body.")
        }
        let limit = request.application.routes.defaultMaxBodySize.value
        guard buffer.readableBytes <= limit else { throw APIError.payloadTooLarge(limit) }
        let data = Data(buffer.readableBytesView)
        try checkDepth(data)
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw APIError.badRequest("The body is not valid JSON.", code: "malformed_json")
        }
        guard let object = parsed as? [String: Any] else {
            throw APIError.badRequest("The body must be a JSON object.")
        }
        return (data, object)
    }

    /// Decodes `T`, refusing fields it does not declare.
    static func decode<T: RequestBody>(_ type: T.Type, from request: Request) throws -> T {
        let (data, object) = try object(request)
        try refuseUnknown(Array(object.keys), for: T.self)
        return try decode(T.self, data: data, with: JSONDecoder())
    }

    /// Decodes `T` like ``decode(_:from:)``, but also reads the number literals `NaN`, `Infinity`
    /// and `-Infinity` (JSON5; Python's `json.dumps` writes them by default) instead of refusing
    /// the whole body as malformed, so that the handler can refuse the values themselves with a
    /// message naming the field — and act on the rest of the request.
    static func decodeAllowingNonFinite<T: RequestBody>(_ type: T.Type, from request: Request) throws -> T {
        do {
            return try decode(T.self, from: request)
        } catch let error as APIError where error.code == "malformed_json" {
            guard let buffer = request.body.data else { throw error }
            let data = Data(buffer.readableBytesView)
            try checkDepth(data)
            let lenient = JSONDecoder()
            lenient.allowsJSON5 = true
            guard let keys = try? lenient.decode(ObjectKeys.self, from: data) else { throw error }
            try refuseUnknown(keys.names, for: T.self)
            return try decode(T.self, data: data, with: lenient)
        }
    }

    private static func refuseUnknown<T: RequestBody>(_ keys: [String], for type: T.Type) throws {
        let known = Set(T.fieldNames)
        if let unknown = keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError.badRequest(
                "Unknown field '\(unknown)'; this request takes \(T.fieldNames.sorted().joined(separator: ", ")).",
                code: "unknown_field")
        }
    }

    private static func decode<T: RequestBody>(_ type: T.Type, data: Data, with decoder: JSONDecoder) throws -> T {
        let value: T
        do {
            value = try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError.badRequest(describe(error), code: "invalid_field")
        }
        try value.validate()
        return value
    }

    /// The keys of a JSON object, whatever their values.
    private struct ObjectKeys: Decodable {
        let names: [String]
        init(from decoder: any Decoder) throws { names = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue) }
    }

    /// Refuses JSON nested deeper than ``maxDepth`` by scanning brackets outside strings.
    static func checkDepth(_ data: Data) throws {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in data {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxDepth { throw APIError.badRequest("The JSON body is nested deeper than \(maxDepth) levels.", code: "malformed_json") }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (last.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "Missing field '\(path(context.codingPath, key))'."
        case .typeMismatch(let type, let context):
            return "Field '\(path(context.codingPath))' must be \(typeName(type))."
        case .valueNotFound(let type, let context):
            return "Field '\(path(context.codingPath))' must be \(typeName(type)), not null."
        case .dataCorrupted(let context):
            let where_ = path(context.codingPath)
            return where_.isEmpty ? "The body is not valid JSON." : "Field '\(where_)': \(context.debugDescription)"
        @unknown default:
            return "The request body could not be read."
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is UUID.Type: "a UUID"
        default: String(describing: type).hasPrefix("Array") ? "a list" : "an object"
        }
    }
}

/// Small checks shared by request bodies.
enum Check {
    /// A trimmed, non-empty string of at most `max` characters.
    static func text(_ value: String, _ field: String, max: Int = 200) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw APIError.unprocessable("Field '\(field)' must not be empty.") }
        guard trimmed.count <= max else { throw APIError.unprocessable("Field '\(field)' must be at most \(max) characters.") }
        return trimmed
    }

    static func optionalText(_ value: String?, _ field: String, max: Int = 2000) throws -> String? {
        guard let value else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return nil }
        guard trimmed.count <= max else { throw APIError.unprocessable("Field '\(field)' must be at most \(max) characters.") }
        return trimmed
    }

    static func email(_ value: String) throws -> String {
        let e = value.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let parts = e.split(separator: "@", omittingEmptySubsequences: false)
        guard e.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !e.contains(where: { $0.isWhitespace }) else {
            throw APIError.unprocessable("Field 'email' must be an e-mail address like name@example.org.")
        }
        return e
    }

    /// bcrypt reads at most 72 bytes, so longer passwords are refused rather than truncated.
    static func password(_ value: String) throws -> String {
        guard value.count >= 10 else { throw APIError.unprocessable("The password must have at least 10 characters.", code: "weak_password") }
        guard value.utf8.count <= 72 else { throw APIError.unprocessable("The password must be at most 72 bytes (bcrypt's limit).", code: "weak_password") }
        return value
    }

    /// `YYYY-MM-DD`, a real calendar date not in the future.
    static func date(_ value: String?, _ field: String) throws -> String? {
        guard let value = try optionalText(value, field, max: 10) else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        guard value.count == 10, let d = f.date(from: value), f.string(from: d) == value, d <= Date() else {
            throw APIError.unprocessable("Field '\(field)' must be a past date as YYYY-MM-DD.")
        }
        return value
    }

    static func oneOf(_ value: String?, _ field: String, _ allowed: [String]) throws -> String? {
        guard let value else { return nil }
        let v = value.lowercased()
        guard allowed.contains(v) else {
            throw APIError.unprocessable("Field '\(field)' must be one of \(allowed.joined(separator: ", ")).")
        }
        return v
    }
}
