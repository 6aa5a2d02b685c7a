import Crypto
import Foundation
import KaryonStore

/// The HMAC keys that sign access tokens, kept in a JSON file readable by the server's user only
/// (mode 0600 in a 0700 directory): `{"active": kid, "keys": {kid: base64}}`.
///
/// Created with one fresh 256-bit key on first start. Adding a key and making it active rotates
/// signing; tokens signed with an older key stay valid until they expire as long as its `kid`
/// remains in the file. Refuses files that others can read (RFC 8725 §3.5: keys must be protected).
struct SigningKeyFile: Sendable {
    let active: String
    let keys: [String: [UInt8]]

    static func loadOrCreate(path: String) throws -> SigningKeyFile {
        guard let mode = try DurableFile.mode(of: path) else {
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty { try DurableFile.makeDirectory(dir, mode: 0o700) }
            let kid = UUID().uuidString.lowercased().prefix(8)
            let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            let file = SigningKeyFile(active: String(kid), keys: [String(kid): key])
            try file.write(to: path)
            return file
        }
        if mode & 0o077 != 0 {
            throw ConfigurationError("The token signing key file \(path) is readable by others (mode \(String(mode, radix: 8))); run: chmod 600 \(path)")
        }
        guard let bytes = try DurableFile.read(path),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let active = object["active"] as? String,
              let encoded = object["keys"] as? [String: String] else {
            throw ConfigurationError("The token signing key file \(path) is not {\"active\": kid, \"keys\": {kid: base64}}.")
        }
        var keys: [String: [UInt8]] = [:]
        for (kid, b64) in encoded {
            guard let bytes = Data(base64Encoded: b64), bytes.count >= 32 else {
                throw ConfigurationError("Key '\(kid)' in \(path) must be at least 32 bytes of base64.")
            }
            keys[kid] = Array(bytes)
        }
        guard keys[active] != nil else { throw ConfigurationError("The active key '\(active)' is missing from \(path).") }
        return SigningKeyFile(active: active, keys: keys)
    }

    /// Writes atomically (temp file with mode 0600, fsync, rename, fsync directory).
    func write(to path: String) throws {
        let object: [String: Any] = ["active": active, "keys": keys.mapValues { Data($0).base64EncodedString() }]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try DurableFile.replace(path, with: [UInt8](data), mode: 0o600)
    }
}
