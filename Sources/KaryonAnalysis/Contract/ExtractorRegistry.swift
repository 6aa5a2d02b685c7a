/// The explicit list of extractors a program offers. Adding an extractor is one folder under
/// `Extractors/` plus one line in ``standard``.
public struct ExtractorRegistry: Sendable {
    public let types: [any Extractor.Type]

    /// - Precondition: ids are unique.
    public init(_ types: [any Extractor.Type]) {
        let ids = types.map { $0.descriptor.id }
        precondition(Set(ids).count == ids.count, "duplicate extractor ids in \(ids)")
        self.types = types
    }

    /// Every extractor Karyon ships.
    public static let standard = ExtractorRegistry([
        IntensityExtractor.self,
        GLCMExtractor.self,
        HaralickExtractor.self,
        LBPExtractor.self,
        ColorExtractor.self,
        NucleiExtractor.self,
        Ki67Extractor.self,
        HER2Extractor.self,
    ])

    public var descriptors: [ExtractorDescriptor] { types.map { $0.descriptor } }

    public func type(for id: String) throws -> any Extractor.Type {
        guard let t = types.first(where: { $0.descriptor.id == id }) else {
            throw ExtractorError(
                .unknownExtractor,
                "unknown extractor '\(id)'; available: \(types.map { $0.descriptor.id }.joined(separator: ", "))")
        }
        return t
    }

    /// Validates parameters given as text and builds the extractor.
    public func configure(_ id: String, text parameters: [String: String] = [:]) throws -> ConfiguredExtractor {
        let t = try type(for: id)
        let set = try ParameterSet(schema: t.descriptor.parameters, text: parameters, extractor: id)
        return ConfiguredExtractor(extractor: try t.init(parameters: set), parameters: set)
    }

    /// Validates typed parameters (from JSON) and builds the extractor.
    public func configure(_ id: String, values parameters: [String: ParameterValue]) throws -> ConfiguredExtractor {
        let t = try type(for: id)
        let set = try ParameterSet(schema: t.descriptor.parameters, given: parameters, extractor: id)
        return ConfiguredExtractor(extractor: try t.init(parameters: set), parameters: set)
    }
}
