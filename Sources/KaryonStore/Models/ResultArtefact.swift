import Foundation

/// One file derived by an analysis (a label image, a GeoJSON of the objects, their measurements as
/// CSV), as a result lists it in its `artefacts` column.
///
/// All artefacts of one result are kept in **one** encrypted blob, one after the other: a result
/// costs one blob write (two durable files) however many artefacts it has. `offset` and
/// `byteSize` locate an artefact in that blob's plaintext. The blob is authenticated as a whole
/// when read, so a slice is as trustworthy as the blob.
public struct ResultArtefact: Sendable, Equatable, Codable {
    /// What the file is, unique within a result: `labels`, `cell_labels`, `geojson`, `objects`, …
    public var kind: String
    public var blobID: UUID
    public var mediaType: String
    public var offset: Int
    public var byteSize: Int

    public init(kind: String, blobID: UUID, mediaType: String, offset: Int, byteSize: Int) {
        self.kind = kind
        self.blobID = blobID
        self.mediaType = mediaType
        self.offset = offset
        self.byteSize = byteSize
    }

    enum CodingKeys: String, CodingKey {
        case kind, blobID = "blob_id", mediaType = "media_type", offset, byteSize = "byte_size"
    }

    /// A file to store with a result, before it has a place in a blob.
    public struct File: Sendable, Equatable {
        public var kind: String
        public var mediaType: String
        public var bytes: [UInt8]

        public init(kind: String, mediaType: String, bytes: [UInt8]) {
            self.kind = kind
            self.mediaType = mediaType
            self.bytes = bytes
        }
    }

    /// The blob's plaintext (the files one after the other) and where each file lies in it.
    public static func pack(_ files: [File], blobID: UUID) -> (plaintext: Data, artefacts: [ResultArtefact]) {
        var plaintext = Data(capacity: files.reduce(0) { $0 + $1.bytes.count })
        var artefacts: [ResultArtefact] = []
        for file in files {
            artefacts.append(ResultArtefact(kind: file.kind, blobID: blobID, mediaType: file.mediaType, offset: plaintext.count,
                                            byteSize: file.bytes.count))
            plaintext.append(contentsOf: file.bytes)
        }
        return (plaintext, artefacts)
    }

    /// This artefact's bytes within its blob's plaintext.
    /// - Throws: `StoreError.integrity` when the blob is shorter than the row says.
    public func slice(of plaintext: Data) throws -> Data {
        guard offset >= 0, byteSize >= 0, offset <= plaintext.count, byteSize <= plaintext.count - offset else {
            throw StoreError(.integrity, "artefact '\(kind)' lies at \(offset)+\(byteSize) but blob \(blobID) holds \(plaintext.count) bytes")
        }
        let start = plaintext.startIndex + offset
        return plaintext.subdata(in: start..<(start + byteSize))
    }

    /// The `artefacts` column's text for `artefacts`.
    public static func json(_ artefacts: [ResultArtefact]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(artefacts)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// The artefacts listed in an `artefacts` column; empty for `[]`.
    /// - Throws: when the text is not such a list (a damaged row).
    public static func list(fromJSON text: String) throws -> [ResultArtefact] {
        try JSONDecoder().decode([ResultArtefact].self, from: Data(text.utf8))
    }
}
