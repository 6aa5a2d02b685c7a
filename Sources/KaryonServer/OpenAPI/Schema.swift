import Foundation

/// A JSON Schema (the OpenAPI 3.1 dialect) small enough to write by hand for each DTO.
indirect enum Schema: Sendable {
    case string(format: String? = nil, enumeration: [String]? = nil, description: String? = nil)
    case integer(minimum: Int? = nil, maximum: Int? = nil)
    case number
    case boolean
    case array(Schema)
    case object([(String, Schema)], required: [String] = [], additional: Schema? = nil)
    /// A map from strings to values of the given schema.
    case map(Schema)
    case ref(String)
    case nullable(Schema)
    /// Any JSON value (feature values, parameters).
    case any
    case binary

    static let uuid = Schema.string(format: "uuid")
    static let dateTime = Schema.string(format: "date-time")
    static let text = Schema.string()

    var json: Any {
        switch self {
        case .string(let format, let enumeration, let description):
            var o: [String: Any] = ["type": "string"]
            if let format { o["format"] = format }
            if let enumeration { o["enum"] = enumeration }
            if let description { o["description"] = description }
            return o
        case .integer(let lo, let hi):
            var o: [String: Any] = ["type": "integer"]
            if let lo { o["minimum"] = lo }
            if let hi { o["maximum"] = hi }
            return o
        case .number: return ["type": "number"]
        case .boolean: return ["type": "boolean"]
        case .array(let items): return ["type": "array", "items": items.json]
        case .object(let properties, let required, let additional):
            var props: [String: Any] = [:]
            for (k, v) in properties { props[k] = v.json }
            var o: [String: Any] = ["type": "object", "properties": props]
            if !required.isEmpty { o["required"] = required }
            o["additionalProperties"] = additional?.json ?? false
            return o
        case .map(let values): return ["type": "object", "additionalProperties": values.json]
        case .ref(let name): return ["$ref": "#/components/schemas/\(name)"]
        case .nullable(let inner):
            return ["oneOf": [inner.json, ["type": "null"]]]
        case .any: return [String: Any]()
        case .binary: return ["type": "string", "contentMediaType": "application/octet-stream"]
        }
    }
}
