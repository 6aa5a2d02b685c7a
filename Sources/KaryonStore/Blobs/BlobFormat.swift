import Crypto
import Foundation

/// The ciphertext file format of ``EncryptedBlobStore`` (`<uuid>.blob`), version 1.
///
/// ```
/// offset  size  field
///      0     4  magic "KRYB"
///      4     1  format version (1)
///      5     3  reserved, zero
///      8     4  segment size S: plaintext bytes per segment, big-endian UInt32 (16 … 64 MiB)
///     12     …  segments 0 … n-1, each = AES-256-GCM ciphertext + 16-byte tag;
///               segments 0 … n-2 hold exactly S plaintext bytes, the last one 0 … S bytes
/// ```
/// An empty blob is one final segment with no ciphertext (the tag alone). A plaintext that is an
/// exact multiple of S ends with a full final segment; there is no trailing empty one.
///
/// Each segment is sealed with AES-256-GCM (NIST SP 800-38D) under the blob's own data key:
/// - **nonce** (96 bits) = 4 zero bytes ‖ segment index as big-endian UInt64. This is the
///   deterministic construction of SP 800-38D §8.2.1 (fixed field ‖ invocation counter). It is safe
///   because the data key is drawn fresh from the system CSPRNG for every `put` and seals exactly one
///   plaintext, once; key rotation re-wraps the data key but never re-encrypts, so no (key, nonce)
///   pair is ever used twice. A random prefix would add nothing but bytes.
/// - **associated data** = the 12 header bytes ‖ blob id (16 bytes) ‖ segment index (UInt64 BE) ‖
///   final flag (1 byte, 1 on the last segment). So a changed header, a file moved to another blob's
///   name, segments reordered or duplicated, a dropped final segment and a cut inside a segment all
///   fail authentication.
///
/// The header is plain, not secret: it says nothing about the content but its length (±16 bytes).
enum BlobFormat {
    static let magic: [UInt8] = Array("KRYB".utf8)
    static let version: UInt8 = 1
    static let headerSize = 12
    static let tagSize = 16
    /// Default plaintext bytes per segment (1 MiB).
    static let defaultSegmentSize = 1 << 20
    static let segmentSizeRange = 16...(64 << 20)

    /// Seals `plaintext` for blob `id` under `dataKey`; returns the whole file's bytes.
    static func seal(_ plaintext: Data, id: UUID, dataKey: SymmetricKey, segmentSize: Int) throws -> [UInt8] {
        precondition(segmentSizeRange.contains(segmentSize))
        let header = makeHeader(segmentSize: segmentSize)
        let count = max(1, (plaintext.count + segmentSize - 1) / segmentSize)
        var out = header
        out.reserveCapacity(header.count + plaintext.count + count * tagSize)
        for index in 0..<count {
            let start = plaintext.startIndex + index * segmentSize
            let end = min(start + segmentSize, plaintext.endIndex)
            let final = index == count - 1
            do {
                let box = try AES.GCM.seal(plaintext[start..<end], using: dataKey, nonce: nonce(index),
                                           authenticating: associatedData(header: header, id: id, index: index, final: final))
                out.append(contentsOf: box.ciphertext)
                out.append(contentsOf: box.tag)
            } catch {
                throw StoreError(.io, "cannot encrypt blob \(id.uuidString.lowercased())", underlying: "\(error)")
            }
        }
        return out
    }

    /// Authenticates every segment of `file` and returns the plaintext, or throws
    /// `StoreError.integrity` without returning any of it. A blob of one segment (up to the
    /// segment size, 1 MiB by default) is returned as decrypted, without a further copy.
    static func open(_ file: [UInt8], id: UUID, dataKey: SymmetricKey) throws -> Data {
        let name = id.uuidString.lowercased()
        func damaged(_ what: String, _ cause: String? = nil) -> StoreError {
            StoreError(.integrity, "blob \(name) failed its integrity check (\(what)): the file was altered, truncated, "
                + "swapped with another blob's or written with another key; restore it from backup", underlying: cause)
        }
        guard file.count >= headerSize + tagSize else { throw damaged("file too short") }
        let header = Array(file[0..<headerSize])
        guard Array(header[0..<4]) == magic else { throw damaged("bad magic") }
        guard header[4] == version else { throw damaged("unknown format version \(header[4])") }
        guard header[5] == 0, header[6] == 0, header[7] == 0 else { throw damaged("reserved header bytes set") }
        let segmentSize = header[8..<12].reduce(0) { $0 << 8 | Int($1) }
        guard segmentSizeRange.contains(segmentSize) else { throw damaged("segment size out of range") }

        let body = file.count - headerSize
        let stride = segmentSize + tagSize
        let count = (body + stride - 1) / stride
        let lastLength = body - (count - 1) * stride
        guard lastLength >= tagSize else { throw damaged("file ends inside a tag") }

        var plaintext = Data()
        if count > 1 { plaintext.reserveCapacity(body - count * tagSize) }
        for index in 0..<count {
            let start = headerSize + index * stride
            let final = index == count - 1
            let end = final ? file.count : start + stride
            let tagStart = end - tagSize
            do {
                let box = try AES.GCM.SealedBox(nonce: nonce(index), ciphertext: file[start..<tagStart], tag: file[tagStart..<end])
                let segment = try AES.GCM.open(box, using: dataKey,
                                               authenticating: associatedData(header: header, id: id, index: index, final: final))
                if count == 1 { return segment }
                plaintext.append(segment)
            } catch {
                throw damaged("segment \(index + 1) of \(count)", "\(error)")
            }
        }
        return plaintext
    }

    static func makeHeader(segmentSize: Int) -> [UInt8] {
        let s = UInt32(segmentSize)
        return magic + [version, 0, 0, 0, UInt8(s >> 24), UInt8(s >> 16 & 0xff), UInt8(s >> 8 & 0xff), UInt8(s & 0xff)]
    }

    static func nonce(_ index: Int) -> AES.GCM.Nonce {
        var bytes: [UInt8] = [0, 0, 0, 0]
        bytes += bigEndian(UInt64(index))
        return try! AES.GCM.Nonce(data: bytes)  // 12 bytes: always valid
    }

    static func associatedData(header: [UInt8], id: UUID, index: Int, final: Bool) -> [UInt8] {
        header + uuidBytes(id) + bigEndian(UInt64(index)) + [final ? 1 : 0]
    }
}

/// The 16 bytes of a UUID in RFC 9562 order.
func uuidBytes(_ id: UUID) -> [UInt8] {
    withUnsafeBytes(of: id.uuid) { Array($0) }
}

func bigEndian(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
}
