import Foundation

/// Where the encrypted blob store and its key file live.
///
/// Environment keys (read only by ``init(environment:dataDirectory:keyFile:)`` at the composition root):
/// - `KARYON_DATA_DIR` (path, default `./karyon-data`): the data directory; blobs live in
///   `<data dir>/blobs`.
/// - `KARYON_KEY_FILE` (path, default `<data dir>/keys/kek.json`): the key-encryption key file
///   (see ``KeyRing``). Point it outside the data directory (another volume, a secrets mount) so a
///   copy of the data directory alone decrypts nothing.
///
/// Explicit arguments (command-line options) win over the environment.
public struct BlobStoreConfiguration: Sendable, Equatable {
    public var dataDirectory: String
    public var keyFile: String

    /// The blob directory: `<data dir>/blobs`.
    public var blobDirectory: String { dataDirectory + "/blobs" }

    public init(dataDirectory: String, keyFile: String? = nil) {
        self.dataDirectory = dataDirectory
        self.keyFile = keyFile ?? dataDirectory + "/keys/kek.json"
    }

    public init(environment: [String: String], dataDirectory: String? = nil, keyFile: String? = nil) {
        let data = dataDirectory ?? environment["KARYON_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "karyon-data"
        self.init(dataDirectory: data, keyFile: keyFile ?? environment["KARYON_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 })
    }
}
