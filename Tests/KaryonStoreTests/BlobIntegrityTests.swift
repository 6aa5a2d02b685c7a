import Foundation
import Testing
@testable import KaryonStore

@Suite("EncryptedBlobStore: tampering, swapping, truncation and wrong keys fail closed")
struct BlobIntegrityTests {
    let temp = TempDir("integrity")
    var blobDir: String { temp.path + "/blobs" }
    var keyFile: String { temp.path + "/keys/kek.json" }

    /// A store with 64-byte segments holding blob 1 (150 bytes: 3 segments, the last one partial) and blob 2.
    func populated() throws -> (EncryptedBlobStore, [UInt8]) {
        let s = try EncryptedBlobStore.open(directory: blobDir, keyFile: keyFile, segmentSize: 64)
        var random = SeededBytes(seed: 11)
        let plaintext = random.bytes(150)
        try s.put(Data(plaintext), id: fixedID(1))
        try s.put(Data(random.bytes(150)), id: fixedID(2))
        return (s, plaintext)
    }

    @Test("flipping any one bit of the ciphertext file (header, segment, tag) is an integrity error")
    func flipCiphertext() throws {
        let (s, plaintext) = try populated()
        let path = s.blobPath(fixedID(1))
        let original = readFile(path)
        #expect(original.count == 12 + 150 + 3 * 16)
        for offset in original.indices {
            var bytes = original
            bytes[offset] ^= 0x01
            writeFile(path, bytes)
            #expect(errorCode { try s.get(fixedID(1)) } == .integrity, "flip at offset \(offset) went unnoticed")
        }
        writeFile(path, original)
        #expect(try s.get(fixedID(1)) == Data(plaintext))
    }

    @Test("flipping any byte of the key file is an integrity error (a kid renamed to another valid kid: keyUnavailable)")
    func flipSidecar() throws {
        let (s, plaintext) = try populated()
        let path = s.keyPath(fixedID(1))
        let original = readFile(path)
        let kidLength = Int(original[5])
        #expect(original.count == 6 + kidLength + 60)
        for offset in original.indices {
            var bytes = original
            bytes[offset] ^= 0x01
            writeFile(path, bytes)
            // A kid changed to another well-formed kid names a key the ring lacks; any other change is damage.
            let renamed = (6..<6 + kidLength).contains(offset) && KeyRing.isKeyIDByte(bytes[offset])
            let expected: StoreError.Code = renamed ? .keyUnavailable : .integrity
            #expect(errorCode { try s.get(fixedID(1)) } == expected, "flip at offset \(offset)")
        }
        writeFile(path, original)
        #expect(try s.get(fixedID(1)) == Data(plaintext))
    }

    @Test("swapping two blobs' ciphertexts, key files, or both is an integrity error for each")
    func swap() throws {
        let (s, _) = try populated()
        let a = fixedID(1), b = fixedID(2)
        func exchange(_ pa: String, _ pb: String) {
            let x = readFile(pa), y = readFile(pb)
            writeFile(pa, y)
            writeFile(pb, x)
        }
        exchange(s.blobPath(a), s.blobPath(b))
        #expect(errorCode { try s.get(a) } == .integrity)
        #expect(errorCode { try s.get(b) } == .integrity)
        exchange(s.keyPath(a), s.keyPath(b))  // now both files of a blob are swapped
        #expect(errorCode { try s.get(a) } == .integrity)
        #expect(errorCode { try s.get(b) } == .integrity)
        exchange(s.blobPath(a), s.blobPath(b))  // key files alone swapped
        #expect(errorCode { try s.get(a) } == .integrity)
        exchange(s.keyPath(a), s.keyPath(b))
        #expect(try s.get(a).count == 150)
    }

    @Test("truncated, extended or reordered ciphertext is an integrity error, never partial plaintext")
    func truncate() throws {
        let (s, _) = try populated()
        let path = s.blobPath(fixedID(1))
        let original = readFile(path)
        let stride = 64 + 16
        let seg = { (i: Int) in Array(original[12 + i * stride..<min(original.count, 12 + (i + 1) * stride)]) }
        let header = Array(original[0..<12])
        let variants: [(String, [UInt8])] = [
            ("final segment dropped", Array(original[0..<12 + 2 * stride])),
            ("cut inside the final segment", Array(original.dropLast(5))),
            ("cut inside a middle segment", Array(original[0..<12 + stride + 30])),
            ("cut inside the header", Array(original[0..<7])),
            ("header only", header),
            ("empty file", []),
            ("one byte appended", original + [0]),
            ("segments 0 and 1 reordered", header + seg(1) + seg(0) + seg(2)),
            ("segment 0 duplicated", header + seg(0) + seg(0) + seg(1) + seg(2)),
        ]
        for (what, bytes) in variants {
            writeFile(path, bytes)
            #expect(errorCode { try s.get(fixedID(1)) } == .integrity, "\(what)")
        }
        try FileManager.default.removeItem(atPath: path)
        #expect(errorCode { try s.get(fixedID(1)) } == .integrity, "ciphertext missing")
    }

    @Test("another key file (other kid): keyUnavailable; same kid with other key bytes: integrity")
    func wrongKEK() throws {
        let (s, _) = try populated()
        let stranger = try EncryptedBlobStore(directory: blobDir, keyRing: .ephemeral(), segmentSize: 64)
        #expect(errorCode { try stranger.get(fixedID(1)) } == .keyUnavailable)

        // A forged key file reusing the real kid with different key material.
        var json = try JSONSerialization.jsonObject(with: Data(readFile(keyFile))) as! [String: Any]
        var keys = json["keys"] as! [[String: Any]]
        keys[0]["key"] = Data(SeededBytes(seed: 5).bytesCopy(32)).base64EncodedString()
        json["keys"] = keys
        let forged = temp.path + "/forged/kek.json"
        try FileManager.default.createDirectory(atPath: temp.path + "/forged", withIntermediateDirectories: true)
        writeFile(forged, Array(try JSONSerialization.data(withJSONObject: json)))
        chmod(forged, 0o600)
        let impostor = try EncryptedBlobStore(directory: blobDir, keyRing: try KeyRing.load(from: forged), segmentSize: 64)
        #expect(errorCode { try impostor.get(fixedID(1)) } == .integrity)
        #expect(try s.get(fixedID(1)).count == 150)
    }

    @Test("the blob directory without its key file decrypts nothing, and no new key is made over it")
    func missingKeyFile() throws {
        do { _ = try populated() }
        try FileManager.default.removeItem(atPath: keyFile)
        #expect(errorCode { try EncryptedBlobStore.open(directory: blobDir, keyFile: keyFile) } == .keyUnavailable)
        #expect(!FileManager.default.fileExists(atPath: keyFile))
        // A key file elsewhere (e.g. a fresh default) opens, but unwraps nothing.
        let other = try EncryptedBlobStore(directory: blobDir, keyRing: try KeyRing.loadOrCreate(at: temp.path + "/k2/kek.json"))
        #expect(errorCode { try other.get(fixedID(1)) } == .keyUnavailable)
    }
}

extension SeededBytes {
    func bytesCopy(_ count: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(count)
    }
}
