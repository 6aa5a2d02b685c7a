import Crypto
import Foundation

/// The JSON form of the key file (see ``KeyRing``) and its validation.
extension KeyRing {
    struct FileContent: Codable {
        struct Entry: Codable {
            var kid: String
            var created: String
            var key: String
        }

        var format: String
        var version: Int
        var active: String
        var retiring: [String]
        var keys: [Entry]
    }

    static let fileFormat = "karyon-kek"
    static let fileVersion = 1

    static func encode(_ state: State) -> [UInt8] {
        let content = FileContent(
            format: fileFormat, version: fileVersion, active: state.active, retiring: state.retiring,
            keys: state.keys.keys.sorted().map { kid in
                FileContent.Entry(kid: kid, created: state.created[kid] ?? "",
                                  key: state.keys[kid]!.withUnsafeBytes { Data($0).base64EncodedString() })
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try! encoder.encode(content)) + [0x0a]
    }

    /// Parses and validates a key file; every failure is `.keyUnavailable` naming the fix.
    static func decode(_ bytes: [UInt8], path: String) throws -> State {
        func malformed(_ what: String) -> StoreError {
            StoreError(.keyUnavailable, "key file \(path) is malformed (\(what)): restore it from backup; "
                + "do not replace it with a new key, or every stored blob becomes unreadable")
        }
        let content: FileContent
        do { content = try JSONDecoder().decode(FileContent.self, from: Data(bytes)) } catch {
            throw malformed("not a Karyon key file")
        }
        guard content.format == fileFormat else { throw malformed("format is not \(fileFormat)") }
        guard content.version == fileVersion else { throw malformed("unsupported version \(content.version)") }
        var state = State(active: content.active, retiring: content.retiring, keys: [:], created: [:])
        for entry in content.keys {
            guard !entry.kid.isEmpty, entry.kid.utf8.count <= WrappedKey.maxKeyIDLength,
                  entry.kid.utf8.allSatisfy(isKeyIDByte) else { throw malformed("invalid kid") }
            guard state.keys[entry.kid] == nil else { throw malformed("kid \(entry.kid) appears twice") }
            guard let raw = Data(base64Encoded: entry.key), raw.count == 32 else {
                throw malformed("key \(entry.kid) is not 32 base64-encoded bytes")
            }
            state.keys[entry.kid] = SymmetricKey(data: raw)
            state.created[entry.kid] = entry.created
        }
        guard state.keys[content.active] != nil else { throw malformed("active key \(content.active) is missing") }
        for kid in content.retiring {
            guard state.keys[kid] != nil else { throw malformed("retiring key \(kid) is missing") }
            guard kid != content.active else { throw malformed("key \(kid) is both active and retiring") }
        }
        return state
    }
}
