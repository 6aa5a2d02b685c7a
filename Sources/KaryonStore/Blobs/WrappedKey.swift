import Crypto
import Foundation

/// A blob's data key wrapped under a key-encryption key: the content of the sidecar `<uuid>.key`.
///
/// ```
/// offset  size  field
///      0     4  magic "KRYK"
///      4     1  format version (1)
///      5     1  kid length k (1 … 64)
///      6     k  kid, ASCII: which key-encryption key in the ``KeyRing`` wrapped it
///    6+k    12  AES-GCM nonce (random)
///   18+k    32  wrapped data key (AES-256-GCM ciphertext of the 256-bit data key)
///   50+k    16  tag
/// ```
/// The wrap is AES-256-GCM (NIST SP 800-38D) under the KEK with a random 96-bit nonce and
/// associated data "karyon.blob-key.v1" ‖ blob id (16 bytes) ‖ kid, so a sidecar copied to another
/// blob's name, or relabelled with another kid, fails to unwrap. Random nonces keep the number of
/// wraps per KEK far below the 2³² limit of SP 800-38D §8.3 for any realistic store.
///
/// Rotation rewrites only this small file; the ciphertext is never touched.
struct WrappedKey: Equatable {
    static let magic: [UInt8] = Array("KRYK".utf8)
    static let version: UInt8 = 1
    static let maxKeyIDLength = 64

    var keyID: String
    var nonce: [UInt8]
    var ciphertext: [UInt8]
    var tag: [UInt8]

    /// Wraps `dataKey` for blob `id` under `kek`, labelled `keyID`.
    static func wrap(_ dataKey: SymmetricKey, id: UUID, keyID: String, kek: SymmetricKey) throws -> WrappedKey {
        do {
            let raw = dataKey.withUnsafeBytes { Array($0) }
            let box = try AES.GCM.seal(raw, using: kek, nonce: AES.GCM.Nonce(),
                                       authenticating: associatedData(id: id, keyID: keyID))
            return WrappedKey(keyID: keyID, nonce: Array(box.nonce), ciphertext: Array(box.ciphertext), tag: Array(box.tag))
        } catch {
            throw StoreError(.io, "cannot wrap the data key of blob \(id.uuidString.lowercased())", underlying: "\(error)")
        }
    }

    /// Unwraps the data key of blob `id` with `kek`; a wrong KEK, a sidecar of another blob or any
    /// altered byte gives `StoreError.integrity`.
    func unwrap(id: UUID, kek: SymmetricKey) throws -> SymmetricKey {
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
            let raw = try AES.GCM.open(box, using: kek, authenticating: Self.associatedData(id: id, keyID: keyID))
            guard raw.count == 32 else { throw StoreError(.integrity, "data key of wrong length") }
            return SymmetricKey(data: raw)
        } catch {
            throw StoreError(.integrity, "the data key of blob \(id.uuidString.lowercased()) failed to unwrap under key "
                + "'\(keyID)': its .key file was altered or belongs to another blob, or the key file holds a different "
                + "key under that id; restore the .key file or the right key file from backup", underlying: "\(error)")
        }
    }

    var bytes: [UInt8] {
        Self.magic + [Self.version, UInt8(keyID.utf8.count)] + Array(keyID.utf8) + nonce + ciphertext + tag
    }

    /// Parses a sidecar; anything but the exact layout above is `StoreError.integrity`.
    init(parsing bytes: [UInt8], id: UUID) throws {
        func damaged(_ what: String) -> StoreError {
            StoreError(.integrity, "the .key file of blob \(id.uuidString.lowercased()) is damaged (\(what)); "
                + "restore it from backup")
        }
        guard bytes.count > 6, Array(bytes[0..<4]) == Self.magic else { throw damaged("bad magic") }
        guard bytes[4] == Self.version else { throw damaged("unknown format version \(bytes[4])") }
        let k = Int(bytes[5])
        guard (1...Self.maxKeyIDLength).contains(k) else { throw damaged("bad key id length") }
        guard bytes.count == 6 + k + 12 + 32 + 16 else { throw damaged("wrong length") }
        let kid = Array(bytes[6..<6 + k])
        guard kid.allSatisfy(KeyRing.isKeyIDByte) else { throw damaged("bad key id") }
        keyID = String(decoding: kid, as: UTF8.self)
        nonce = Array(bytes[6 + k..<18 + k])
        ciphertext = Array(bytes[18 + k..<50 + k])
        tag = Array(bytes[50 + k..<66 + k])
    }

    init(keyID: String, nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        self.keyID = keyID
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }

    static func associatedData(id: UUID, keyID: String) -> [UInt8] {
        Array("karyon.blob-key.v1".utf8) + uuidBytes(id) + Array(keyID.utf8)
    }
}
