import Foundation
import Testing
@testable import KaryonStore

@Suite("EncryptedBlobStore: round trips, secrecy, layout")
struct EncryptedBlobStoreTests {
    let temp = TempDir("blobs")
    var blobDir: String { temp.path + "/blobs" }
    var keyFile: String { temp.path + "/keys/kek.json" }

    func store(segmentSize: Int = 64) throws -> EncryptedBlobStore {
        try EncryptedBlobStore.open(directory: blobDir, keyFile: keyFile, segmentSize: segmentSize)
    }

    @Test("round trip: empty, 1 byte, one exact segment, several segments plus a remainder",
          arguments: [0, 1, 64, 64 * 3 + 17, 128])
    func roundTrip(size: Int) throws {
        var random = SeededBytes(seed: 42 + UInt64(size))
        let plaintext = random.bytes(size)
        let s = try store()
        let info = try s.put(Data(plaintext), id: fixedID(size))
        #expect(info == BlobInfo(id: fixedID(size), size: size))
        #expect(try s.get(fixedID(size)) == Data(plaintext))
        // Exact file size: header + ciphertext + one tag per segment (an empty blob has one segment).
        let segments = max(1, (size + 63) / 64)
        #expect(readFile(s.blobPath(fixedID(size))).count == 12 + size + 16 * segments)
    }

    @Test("a slice of a larger Data (start index not 0) round trips over several segments")
    func slicedPlaintext() throws {
        var random = SeededBytes(seed: 9)
        let whole = Data(random.bytes(64 * 5 + 40))
        let slice = whole[23..<(23 + 64 * 3 + 9)]
        #expect(slice.startIndex == 23)
        let s = try store()
        #expect(try s.put(slice, id: fixedID(2)) == BlobInfo(id: fixedID(2), size: slice.count))
        let back = try s.get(fixedID(2))
        #expect(back == Data(slice))
        #expect(back.startIndex == 0)
    }

    @Test("round trip with the default 1 MiB segments across a segment boundary")
    func defaultSegments() throws {
        var random = SeededBytes(seed: 7)
        let plaintext = random.bytes((1 << 20) * 2 + 5)
        let s = try store(segmentSize: 1 << 20)
        try s.put(Data(plaintext), id: fixedID(1))
        #expect(try s.get(fixedID(1)) == Data(plaintext))
    }

    @Test("a unique marker never lands on disk; blobs carry no PNG/JPEG/TIFF magic and look random")
    func noPlaintextOnDisk() throws {
        let started = Date().addingTimeInterval(-1)
        let marker = Array("KARYON-MARKER-7f3c9a1e-patient-0042".utf8)
        let magics: [[UInt8]] = [[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], [0xFF, 0xD8, 0xFF], [0x49, 0x49, 0x2A, 0x00], [0x4D, 0x4D, 0x00, 0x2A]]
        let s = try store(segmentSize: 1 << 20)
        var random = SeededBytes(seed: 3)
        for (n, magic) in magics.enumerated() {
            let image = magic + marker + random.bytes(1000) + marker + [UInt8](repeating: 0, count: 65536)
            try s.put(Data(image), id: fixedID(n))
        }
        var scanned = temp.files
        // Anything else this process left in the temp dir since the test started.
        let tmp = FileManager.default.temporaryDirectory.path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] {
            let path = tmp + "/" + name
            guard let a = try? FileManager.default.attributesOfItem(atPath: path), a[.type] as? FileAttributeType == .typeRegular,
                  let m = a[.modificationDate] as? Date, m >= started, (a[.size] as? Int ?? 0) < 50 << 20 else { continue }
            scanned.append(path)
        }
        #expect(scanned.filter { $0.hasSuffix(".blob") }.count == 4)
        for path in scanned {
            let bytes = FileManager.default.contents(atPath: path).map(Array.init) ?? []
            #expect(!contains(bytes, marker), "marker found in \(path)")
            #expect(!contains(bytes, Array("KARYON-MARKER".utf8)), "marker prefix found in \(path)")
            if path.hasSuffix(".blob") {
                // A file-type sniffer reads the first bytes; elsewhere a 3-byte magic turns up in
                // random bytes by chance (JPEG's, once in 16.7 MB), so there the test looks for
                // the magic followed by the plaintext's next 8 bytes.
                for magic in magics {
                    #expect(!bytes.starts(with: magic), "image magic at the start of \(path)")
                    #expect(!contains(bytes, magic + marker.prefix(8)), "image header in \(path)")
                }
                // 64 KiB of zeros encrypt to bytes that fill the 256 values evenly (χ², 255 dof: mean 255, sd 22.6).
                let tail = bytes.suffix(65536)
                var counts = [Int](repeating: 0, count: 256)
                for b in tail { counts[Int(b)] += 1 }
                let expected = Double(tail.count) / 256
                let chi2 = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
                #expect(chi2 < 400, "ciphertext of \(path) does not look random: χ² = \(chi2)")
            }
        }
    }

    @Test("file names and errors carry only ids: layout <dir>/<2 hex>/<uuid>.blob + .key, key file 0600 in a 0700 dir")
    func layoutAndModes() throws {
        let s = try store()
        let id = UUID(uuidString: "ABCDEF01-2345-4678-89AB-CDEF01234567")!
        try s.put(Data([1, 2, 3]), id: id)
        #expect(FileManager.default.fileExists(atPath: blobDir + "/ab/abcdef01-2345-4678-89ab-cdef01234567.blob"))
        #expect(FileManager.default.fileExists(atPath: blobDir + "/ab/abcdef01-2345-4678-89ab-cdef01234567.key"))
        #expect(try DurableFile.mode(of: keyFile) == 0o600)
        #expect(try DurableFile.mode(of: temp.path + "/keys") == 0o700)
        #expect(try DurableFile.mode(of: s.blobPath(id)) == 0o600)
        #expect(Set(temp.files.map { ($0 as NSString).lastPathComponent })
            == ["kek.json", "abcdef01-2345-4678-89ab-cdef01234567.blob", "abcdef01-2345-4678-89ab-cdef01234567.key"])
    }

    @Test("a second put under the same id is refused and leaves the first intact")
    func immutable() throws {
        let s = try store()
        try s.put(Data([1]), id: fixedID(1))
        #expect(errorCode { try s.put(Data([2]), id: fixedID(1)) } == .conflict)
        #expect(try s.get(fixedID(1)) == Data([1]))
    }

    @Test("unknown id: notFound; contains and allIDs agree")
    func notFound() throws {
        let s = try store()
        #expect(errorCode { try s.get(fixedID(9)) } == .notFound)
        #expect(!s.contains(fixedID(9)))
        try s.put(Data([1]), id: fixedID(2))
        try s.put(Data([1]), id: fixedID(1))
        #expect(s.contains(fixedID(1)))
        #expect(try s.allIDs() == [fixedID(1), fixedID(2)])
    }

    @Test("delete crypto-shreds: files gone, a kept copy of the ciphertext decrypts nothing, idempotent")
    func delete() throws {
        let s = try store()
        try s.put(Data("secret".utf8), id: fixedID(1))
        try s.put(Data("other".utf8), id: fixedID(2))
        let savedCiphertext = readFile(s.blobPath(fixedID(1)))
        let wrapped = Array(readFile(s.keyPath(fixedID(1))).suffix(48))
        // A temporary copy of the key file, as a rotation killed before its rename leaves behind.
        let stray = s.shardPath(fixedID(1)) + "/." + fixedID(1).uuidString.lowercased() + ".key.5a5a.tmp"
        writeFile(stray, readFile(s.keyPath(fixedID(1))))
        #expect(try s.delete(fixedID(1)))
        #expect(!s.contains(fixedID(1)))
        #expect(try s.allIDs() == [fixedID(2)])
        #expect(errorCode { try s.get(fixedID(1)) } == .notFound)
        #expect(!FileManager.default.fileExists(atPath: stray))
        for path in temp.files { #expect(!contains(readFile(path), wrapped), "wrapped key survives in \(path)") }
        writeFile(s.blobPath(fixedID(1)), savedCiphertext)  // an attacker's copy of the ciphertext
        #expect(errorCode { try s.get(fixedID(1)) } == .notFound)
        #expect(try s.allIDs() == [fixedID(1), fixedID(2)])  // listed for orphan collection
        #expect(try s.delete(fixedID(1)))
        #expect(try !s.delete(fixedID(1)))
        #expect(try s.get(fixedID(2)) == Data("other".utf8))
    }

    @Test("a put interrupted before its key file leaves an orphan listed by allIDs and collectable")
    func orphan() throws {
        let s = try store()
        try s.put(Data([9, 9]), id: fixedID(1))
        try FileManager.default.removeItem(atPath: s.keyPath(fixedID(1)))  // as if killed before the .key rename
        writeFile(s.shardPath(fixedID(1)) + "/.stray.blob.1234.tmp", [0])
        #expect(!s.contains(fixedID(1)))
        #expect(try s.allIDs() == [fixedID(1)])
        #expect(try s.delete(fixedID(1)))
        #expect(try s.allIDs().isEmpty)
        try s.put(Data([1]), id: fixedID(1))  // the id is free again
        #expect(try s.get(fixedID(1)) == Data([1]))
    }

    @Test("concurrent puts, gets and deletes from several threads")
    func concurrent() throws {
        let s = try store(segmentSize: 256)
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            var random = SeededBytes(seed: UInt64(thread))
            for i in 0..<25 {
                let id = fixedID(thread * 1000 + i)
                let bytes = Data(random.bytes(Int(random.next() % 2000)))
                do {
                    try s.put(bytes, id: id)
                    if try s.get(id) != bytes { failures.add() }
                    if i % 5 == 4 { try s.delete(id) }
                } catch { failures.add() }
            }
        }
        #expect(failures.value == 0)
        #expect(try s.allIDs().count == 8 * 20)
    }

    @Test("InMemoryBlobStore follows the same contract")
    func inMemory() throws {
        let s: any BlobStore = InMemoryBlobStore()
        let info = try s.put(Data("abc".utf8), id: fixedID(1))
        #expect(info == BlobInfo(id: fixedID(1), size: 3))
        #expect(try s.get(fixedID(1)) == Data("abc".utf8))
        #expect(errorCode { try s.put(Data(), id: fixedID(1)) } == .conflict)
        #expect(try s.allIDs() == [fixedID(1)])
        #expect(try s.delete(fixedID(1)))
        #expect(errorCode { try s.get(fixedID(1)) } == .notFound)
    }

    @Test("a segment size out of range is refused")
    func badSegmentSize() {
        #expect(errorCode { try EncryptedBlobStore(directory: blobDir, keyRing: .ephemeral(), segmentSize: 8) } == .invalidInput)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
