import KaryonAnalysis
import Vapor

/// An HTTP error with a stable machine-readable `code`, rendered as
/// `{"error": {"code": …, "message": …}}` by ``APIErrorMiddleware``.
struct APIError: AbortError, Sendable {
    var status: HTTPResponseStatus
    var code: String
    var message: String
    var headers: HTTPHeaders = [:]

    var reason: String { message }

    init(_ status: HTTPResponseStatus, _ code: String, _ message: String, headers: HTTPHeaders = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    static func badRequest(_ message: String, code: String = "bad_request") -> APIError {
        APIError(.badRequest, code, message)
    }
    static func unauthorized(_ message: String = "Sign in: send 'Authorization: Bearer <access token or API token>'.") -> APIError {
        APIError(.unauthorized, "unauthorized", message, headers: ["WWW-Authenticate": "Bearer"])
    }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }
    /// The same answer whether the resource does not exist or the caller may not see it.
    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", "No \(what) with this id.") }
    static func conflict(_ message: String) -> APIError { APIError(.conflict, "conflict", message) }
    static func payloadTooLarge(_ limit: Int) -> APIError {
        APIError(.payloadTooLarge, "payload_too_large", "The request body is over the limit of \(ByteCountFormatter.string(fromByteCount: Int64(limit), countStyle: .binary)).")
    }
    static func unsupportedMediaType(_ expected: String) -> APIError {
        APIError(.unsupportedMediaType, "unsupported_media_type", "Send the body as \(expected).")
    }
    static func tooManyRequests(_ message: String, retryAfter: Int) -> APIError {
        APIError(.tooManyRequests, "too_many_requests", message, headers: ["Retry-After": String(retryAfter)])
    }
    /// Temporarily refused (backpressure); the client should retry after `retryAfter` seconds.
    static func unavailable(_ message: String, retryAfter: Int) -> APIError {
        APIError(.serviceUnavailable, "unavailable", message, headers: ["Retry-After": String(retryAfter)])
    }
    static func unprocessable(_ message: String, code: String = "invalid_input") -> APIError {
        APIError(.unprocessableEntity, code, message)
    }
}

/// Turns every error into the API's error body. Unknown errors become a 500 whose message says
/// nothing about internals (the detail goes to the log with the request id).
struct APIErrorMiddleware: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        do {
            return try await next.respond(to: request)
        } catch {
            return Self.response(for: error, request: request)
        }
    }

    static func response(for error: any Error, request: Request) -> Response {
        let status: HTTPResponseStatus
        let code: String
        let message: String
        var headers: HTTPHeaders = [:]
        switch error {
        case let e as APIError:
            (status, code, message, headers) = (e.status, e.code, e.message, e.headers)
        case let e as any AbortError:
            status = e.status
            code = Self.code(for: e.status)
            message = e.status == .payloadTooLarge ? "The request body is too large." : e.reason
            headers = e.headers
        case is DecodingError:
            (status, code, message) = (.badRequest, "bad_request", "The request body could not be read.")
        default:
            request.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            (status, code, message) = (.internalServerError, "internal", "The server failed; the request id is in the X-Request-Id header.")
        }
        let body = JSONText.object([("error", JSONText.object([("code", JSONText.string(code)), ("message", JSONText.string(message))]))])
        headers.replaceOrAdd(name: .contentType, value: "application/json; charset=utf-8")
        return Response(status: status, headers: headers, body: .init(string: body))
    }

    static func code(for status: HTTPResponseStatus) -> String {
        switch status {
        case .badRequest: "bad_request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .payloadTooLarge: "payload_too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        case .tooManyRequests: "too_many_requests"
        default: status.code >= 500 ? "internal" : "error"
        }
    }
}
