import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A small client for Karyon's HTTP API (the subset `karyon ingest` and `karyon loadtest` use),
/// on AsyncHTTPClient's shared client.
///
/// Every request carries `Authorization: Bearer <token>` when a token is set. ``call(_:_:json:as:retry:)``
/// retries what is worth retrying (``RetryPolicy``) and turns refusals into ``ClientError``s that
/// say what to do; ``send(_:_:body:contentType:headers:timeout:)`` is one plain exchange.
public struct APIClient: Sendable {
    /// `scheme://host[:port][/prefix]`, without a trailing slash.
    public let baseURL: String
    public var token: String?
    let http: HTTPClient

    /// - Throws: ``ClientError/Code/badInput`` unless `baseURL` is an http(s) URL with a host and
    ///   no query or fragment.
    public init(baseURL: String, token: String?, http: HTTPClient = .shared) throws {
        let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil, url.user == nil else {
            throw ClientError(.badInput, "--api must be an http:// or https:// URL such as http://127.0.0.1:8080, got '\(baseURL)'")
        }
        self.baseURL = trimmed
        self.token = token
        self.http = http
    }

    /// What the server answered.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: ByteBuffer

        public var data: Data { Data(body.readableBytesView) }

        public func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do {
                return try APIClient.decoder.decode(type, from: data)
            } catch {
                throw ClientError(.http, "unexpected answer from the server (HTTP \(status))", cause: "\(error)")
            }
        }

        /// Seconds from `Retry-After` (delta-seconds or an HTTP date), when present.
        public var retryAfter: TimeInterval? {
            guard let value = headers.first(name: "Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
            if let seconds = Double(value), seconds >= 0 { return seconds }
            let format = DateFormatter()
            format.locale = Locale(identifier: "en_US_POSIX")
            format.timeZone = TimeZone(identifier: "GMT")
            format.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            return format.date(from: value).map { max(0, $0.timeIntervalSinceNow) }
        }

        /// `error.code` of Karyon's error body.
        public var errorCode: String? { errorField("code") }

        /// `error.message` of Karyon's error body, or the status line.
        public var errorMessage: String {
            errorField("message") ?? "HTTP \(status) \(HTTPResponseStatus(statusCode: status).reasonPhrase)"
        }

        private func errorField(_ key: String) -> String? {
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let error = object["error"] as? [String: Any] else { return nil }
            return error[key] as? String
        }
    }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()

    /// Largest answer body read (result lists of big studies stay far below it).
    static let maxAnswerBytes = 64 << 20

    /// One request and its whole answer; transport failures throw whatever AsyncHTTPClient threw.
    public func send(_ method: HTTPMethod, _ path: String, body: HTTPClientRequest.Body? = nil, contentType: String? = nil,
                     headers: [(String, String)] = [], timeout: TimeAmount = .seconds(120)) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = body
        let response = try await http.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: Self.maxAnswerBytes)
        return Reply(status: Int(response.status.code), headers: response.headers, body: bytes)
    }

    /// A JSON request (body encoded with snake_case keys), retried per `retry`, decoded from JSON.
    /// - Throws: ``ClientError``: `unauthorized` (401), `forbidden` (403), `notFound` (404),
    ///   `http` (any other non-2xx), `connection` (unreachable after the retries).
    public func call<T: Decodable>(_ method: HTTPMethod, _ path: String, json: (any Encodable & Sendable)? = nil, as type: T.Type,
                                   retry: RetryPolicy = .standard) async throws -> T {
        let body = try json.map { try Self.encoder.encode($0) }
        let reply = try await retry.run(describing: "\(method) \(baseURL)\(path)") {
            try await send(method, path, body: body.map { .bytes(ByteBuffer(bytes: $0)) },
                           contentType: body == nil ? nil : "application/json", timeout: .seconds(60))
        }
        try check(reply, method, path)
        return try reply.decode(type)
    }

    /// Turns a non-2xx answer into the matching ``ClientError``.
    public func check(_ reply: Reply, _ method: HTTPMethod, _ path: String) throws {
        switch reply.status {
        case 200..<300: return
        case 401:
            throw ClientError(.unauthorized, "\(baseURL) refused the token (401: \(reply.errorMessage)); pass a valid --token or set KARYON_TOKEN")
        case 403: throw ClientError(.forbidden, "\(method) \(path) is not allowed for this token's user (403: \(reply.errorMessage))")
        case 404: throw ClientError(.notFound, "\(method) \(path): not found (404: \(reply.errorMessage))")
        default: throw ClientError(.http, "\(method) \(path) answered \(reply.status): \(reply.errorMessage)")
        }
    }
}
