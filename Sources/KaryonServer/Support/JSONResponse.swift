import Foundation
import Vapor

/// JSON responses built from plain dictionaries, so stored JSON (features, parameters) is
/// embedded as it is, keys stay exactly as written (snake_case), and nothing is encoded by
/// reflection that was not meant to leave the server.
enum JSONResponse {
    static func make(_ object: Any, status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:]) throws -> Response {
        let data = try JSONWriter.data(object)
        var headers = headers
        headers.replaceOrAdd(name: .contentType, value: "application/json; charset=utf-8")
        return Response(status: status, headers: headers, body: .init(buffer: ByteBuffer(bytes: data)))
    }

    /// A page of a list: `{"items": […], "total": n, "limit": l, "offset": o}`.
    static func page(_ items: [Any], total: Int, page: Page) throws -> Response {
        try make(["items": items, "total": total, "limit": page.limit, "offset": page.offset])
    }

    /// Parses stored JSON text back into a value for embedding; malformed text becomes null.
    static func embedded(_ text: String) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? NSNull()
    }
}

/// `limit` and `offset` query parameters; `limit` is capped, whatever the caller asks.
struct Page: Sendable {
    static let defaultLimit = 50
    let limit: Int
    let offset: Int

    init(_ request: Request, maxLimit: Int) throws {
        let limit = try Page.integer(request, "limit") ?? Page.defaultLimit
        let offset = try Page.integer(request, "offset") ?? 0
        guard limit >= 1 else { throw APIError.badRequest("'limit' must be at least 1.") }
        guard offset >= 0, offset <= 10_000_000 else { throw APIError.badRequest("'offset' must be 0 to 10000000.") }
        self.limit = min(limit, maxLimit)
        self.offset = offset
    }

    private static func integer(_ request: Request, _ name: String) throws -> Int? {
        guard let raw: String = request.query[name] else { return nil }
        guard let v = Int(raw) else { throw APIError.badRequest("'\(name)' must be an integer.") }
        return v
    }
}

extension UUID {
    /// The form ids take in the API: lower-case.
    var api: String { uuidString.lowercased() }
}

extension Date {
    /// RFC 3339 / ISO 8601 in UTC with milliseconds.
    var api: String { Date.apiStyle.format(self) }

    /// A value-type formatter: no ICU, no per-call allocation of a formatter object.
    static let apiStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

/// `value` or JSON null.
func orNull(_ value: Any?) -> Any { value ?? NSNull() }
