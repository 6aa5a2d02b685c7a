extension ExtractorDescriptor {
    /// The descriptor as a JSON object: id, version, summary, references, determinism and the
    /// parameter schema (key, type, default, choices, bounds, unit, help). `karyon extractors --json`
    /// and the HTTP API print this form.
    public var jsonText: String {
        let d = self
        let determinism: String = switch d.determinism {
        case .bitExact: JSONText.string("bit-exact")
        case .tolerance(let t): JSONText.object([("tolerance", JSONText.number(t))])
        case .seeded(let key): JSONText.object([("seeded_by", JSONText.string(key))])
        }
        let parameters = d.parameters.map(\.jsonText)
        return JSONText.object([
            ("id", JSONText.string(d.id)),
            ("version", JSONText.string(d.version)),
            ("summary", JSONText.string(d.summary)),
            ("references", JSONText.array(d.references.map(JSONText.string))),
            ("determinism", determinism),
            ("parameters", JSONText.array(parameters)),
        ])
    }
}
