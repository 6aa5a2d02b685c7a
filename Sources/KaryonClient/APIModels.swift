import Foundation

// The parts of Karyon's API answers the client reads (keys arrive in snake_case and are decoded
// with `convertFromSnakeCase`; fields not listed here are ignored).

/// `{"items": [...], "total", "limit", "offset"}`.
public struct Page<Item: Decodable & Sendable>: Decodable, Sendable {
    public var items: [Item]
    public var total: Int
    public var limit: Int
    public var offset: Int
}

public struct ImageInfo: Decodable, Sendable {
    public var id: String
    public var sha256: String
    public var originalName: String?
}

/// One extractor a study subscribes to, with its resolved parameters' hash.
public struct Subscription: Decodable, Sendable, Hashable {
    public var id: String
    public var version: String
    public var parameterHash: String
}

public struct StudyInfo: Decodable, Sendable {
    public var id: String
    public var title: String
    public var status: String
    public var progress: Int
    public var images: Int
    /// Jobs by state: queued, running, failed (waiting for a retry), succeeded, dead.
    public var jobs: [String: Int]
    public var extractors: [Subscription]
}

/// One entry of `GET /api/v1/images/{id}/results`: an expected (extractor, version, parameters)
/// with its state, or a stored result.
public struct ResultEntry: Decodable, Sendable {
    public var imageId: String
    public var extractor: String
    public var version: String
    public var parameterHash: String
    /// queued, running, failed, succeeded or dead.
    public var status: String
    public var error: String?
    public var finishedAt: String?
}

/// One element of `GET /api/v1/queue`. `poolSize` and `busy` are read when the server reports
/// them, and nil otherwise.
public struct QueueRow: Decodable, Sendable {
    public var extractor: String
    public var counts: [String: Int]
    public var oldestWaitingSeconds: Double?
    public var poolSize: Int?
    public var busy: Int?

    enum CodingKeys: String, CodingKey { case extractor, counts, oldestWaitingSeconds, poolSize, busy }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        extractor = try c.decode(String.self, forKey: .extractor)
        counts = try c.decode([String: Int].self, forKey: .counts)
        oldestWaitingSeconds = try? c.decodeIfPresent(Double.self, forKey: .oldestWaitingSeconds)
        poolSize = try? c.decodeIfPresent(Int.self, forKey: .poolSize)
        busy = try? c.decodeIfPresent(Int.self, forKey: .busy)
    }
}

/// The answer to an upload: one entry per file, `duplicate` when the study already had the bytes.
public struct UploadAnswer: Decodable, Sendable {
    public struct Item: Decodable, Sendable {
        public var id: String
        public var sha256: String
        public var duplicate: Bool?
    }

    public var images: [Item]
}

/// `{"id": …}` of a created record.
public struct Created: Decodable, Sendable {
    public var id: String
}

/// Timestamps in API answers: RFC 3339 in UTC, with or without fractional seconds.
enum APITime {
    static func parse(_ text: String?) -> Date? {
        guard let text else { return nil }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
