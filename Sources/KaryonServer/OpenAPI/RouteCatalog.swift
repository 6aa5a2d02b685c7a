import Foundation
import Vapor

/// One documented HTTP operation. Routes are registered through ``RouteCatalog/register(_:on:body:use:)``,
/// which adds the Vapor route and its OpenAPI entry from the same declaration; a test checks
/// that the OpenAPI document and Vapor's route table list the same operations.
struct Operation: Sendable {
    var method: HTTPMethod
    /// OpenAPI form: `/api/v1/patients/{id}`.
    var path: String
    var summary: String
    var tag: String
    var authenticated = true
    /// Path parameters that are not UUIDs (every other `{…}` is one).
    var pathParameters: [String: Schema] = [:]
    var query: [(name: String, schema: Schema, description: String)] = []
    /// Required request headers.
    var headers: [(name: String, schema: Schema, description: String)] = []
    var requestBody: Schema? = nil
    var requestMediaType = "application/json"
    /// Success status and body; error statuses are added from ``errors``.
    var status = 200
    var response: Schema? = nil
    var responseMediaType = "application/json"
    /// When set, a second success: 204 with no body, described by this text.
    var noContent: String? = nil
    var errors: [Int] = []

    var id: String { "\(method.rawValue) \(path)" }
}

/// The operations the server exposes, in registration order.
final class RouteCatalog: @unchecked Sendable {
    private(set) var operations: [Operation] = []
    private let lock = NSLock()

    /// Registers `handler` for `operation` on `routes` and records the operation.
    func register(_ operation: Operation, on routes: any RoutesBuilder, body: HTTPBodyStreamStrategy = .collect,
                  use handler: @escaping @Sendable (Request) async throws -> Response) {
        let components: [PathComponent] = operation.path.split(separator: "/").map { part in
            if part.hasPrefix("{"), part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .constant(String(part))
        }
        routes.on(operation.method, components, body: body, use: handler)
        lock.withLock { operations.append(operation) }
    }

    /// The OpenAPI 3.1 document.
    func document(components: [String: Schema]) -> [String: Any] {
        var paths: [String: [String: Any]] = [:]
        for op in lock.withLock({ operations }) {
            var entry: [String: Any] = ["summary": op.summary, "tags": [op.tag], "operationId": Self.operationID(op)]
            var parameters: [[String: Any]] = []
            for part in op.path.split(separator: "/") where part.hasPrefix("{") {
                let name = String(part.dropFirst().dropLast())
                let schema = op.pathParameters[name]?.json ?? (name == "name" ? ["type": "string"] : ["type": "string", "format": "uuid"])
                parameters.append(["name": name, "in": "path", "required": true, "schema": schema])
            }
            for q in op.query {
                parameters.append(["name": q.name, "in": "query", "required": false, "schema": q.schema.json, "description": q.description])
            }
            for h in op.headers {
                parameters.append(["name": h.name, "in": "header", "required": true, "schema": h.schema.json, "description": h.description])
            }
            if !parameters.isEmpty { entry["parameters"] = parameters }
            if let body = op.requestBody {
                entry["requestBody"] = ["required": true, "content": [op.requestMediaType: ["schema": body.json]]]
            }
            var responses: [String: Any] = [:]
            var success: [String: Any] = ["description": "Success"]
            if let schema = op.response { success["content"] = [op.responseMediaType: ["schema": schema.json]] }
            responses[String(op.status)] = success
            if let noContent = op.noContent { responses["204"] = ["description": noContent] }
            var errors = op.errors
            if op.authenticated { errors.append(401) }
            if op.requestBody != nil { errors.append(contentsOf: [400, 413, 415]) }
            for code in Set(errors).sorted() {
                responses[String(code)] = ["$ref": "#/components/responses/Error\(code)"]
            }
            entry["responses"] = responses
            entry["security"] = op.authenticated ? [["bearer": [String]()]] : [[String: [String]]]()
            paths[op.path, default: [:]][op.method.rawValue.lowercased()] = entry
        }
        var schemas: [String: Any] = [:]
        for (name, schema) in components { schemas[name] = schema.json }
        schemas["Error"] = Schema.object([
            ("error", .object([("code", .text), ("message", .text)], required: ["code", "message"])),
        ], required: ["error"]).json
        var errorResponses: [String: Any] = [:]
        let reasons = [400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found (or not visible to the caller)",
                       409: "Conflict", 413: "Payload too large", 415: "Unsupported media type", 422: "Invalid input",
                       429: "Too many requests (see Retry-After)", 500: "Server failure (e.g. a stored blob failed its integrity check)",
                       503: "Not ready, or busy (see Retry-After)"]
        for (code, reason) in reasons {
            errorResponses["Error\(code)"] = ["description": reason, "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Karyon API", "version": "1.0.0",
                "description": "Records, images (encrypted at rest), analysis results and audit of the Karyon platform. Errors are {\"error\": {\"code\", \"message\"}}; bodies are snake_case JSON.",
            ],
            "paths": paths,
            "components": [
                "schemas": schemas,
                "responses": errorResponses,
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer", "description": "An access token from /api/v1/auth/login or a personal API token (kyn_…)."]],
            ],
        ]
    }

    private static func operationID(_ op: Operation) -> String {
        let words = op.path.split(separator: "/").dropFirst(2).map { part -> String in
            part.hasPrefix("{") ? "By" + part.dropFirst().dropLast().capitalized : part.replacingOccurrences(of: ".", with: "_").capitalized
        }
        return op.method.rawValue.lowercased() + words.joined().replacingOccurrences(of: "_", with: "")
    }
}
