import Foundation
import Testing
@testable import KaryonStore

@Suite("EncryptedBlobStore.rotateKeys: re-wrap, interruption, resumption")
struct KeyRotationTests {
    let temp = TempDir("rotation")
    var blobDir: String { temp.path + "/blobs" }
    var keyFile: String { temp.path + "/keys/kek.json" }

    func open() throws -> EncryptedBlobStore {
        try EncryptedBlobStore.open(directory: blobDir, keyFile: keyFile, segmentSize: 64)
    }

    /// 20 blobs with fixed contents.
    func fill(_ s: EncryptedBlobStore) throws -> [UUID: Data] {
        var random = SeededBytes(seed: 99)
        var contents: [UUID: Data] = [:]
        for n in 0..<20 {
            let data = Data(random.bytes(Int(random.next() % 300)))
            try s.put(data, id: fixedID(n))
            contents[fixedID(n)] = data
        }
        return contents
    }

    func kid(of s: EncryptedBlobStore, _ id: UUID) throws -> String {
        try WrappedKey(parsing: readFile(s.keyPath(id)), id: id).keyID
    }

    @Test("rotation re-wraps every data key under a new KEK, leaves ciphertext untouched and drops the old KEK")
    func full() throws {
        let s = try open()
        let contents = try fill(s)
        let old = s.keyRing.activeKeyID
        let ciphertexts = contents.keys.map { readFile(s.blobPath($0)) }
        let report = try s.rotateKeys()
        #expect(report.startedNewRotation && report.finished)
        #expect(report.rewrapped == 20 && report.alreadyCurrent == 0 && report.failed.isEmpty)
        #expect(report.droppedKeyIDs == [old] && report.activeKeyID != old)
        #expect(s.keyRing.keyIDs == [report.activeKeyID] && !s.keyRing.isRotationInProgress)
        #expect(contents.keys.map { readFile(s.blobPath($0)) } == ciphertexts)
        for (id, data) in contents {
            #expect(try kid(of: s, id) == report.activeKeyID)
            #expect(try s.get(id) == data)
        }
        #expect(try s.keyUsage() == KeyUsage(byKeyID: [report.activeKeyID: 20], damaged: []))
        // The key file on disk agrees, and the old KEK is gone from it.
        let text = String(decoding: readFile(keyFile), as: UTF8.self)
        #expect(!text.contains(old) && text.contains(report.activeKeyID))
        // A second rotation starts afresh.
        let again = try s.rotateKeys()
        #expect(again.startedNewRotation && again.rewrapped == 20 && again.activeKeyID != report.activeKeyID)
    }

    @Test("interrupted after 7 re-wraps: every blob still reads; reopened and rerun, it resumes and finishes")
    func interrupted() throws {
        var contents: [UUID: Data] = [:]
        let old: String, new: String
        do {
            let s = try open()
            contents = try fill(s)
            old = s.keyRing.activeKeyID
            let partial = try s.rotateKeys(limit: 7)
            new = partial.activeKeyID
            #expect(partial.startedNewRotation && !partial.finished && partial.rewrapped == 7 && partial.droppedKeyIDs.isEmpty)
            #expect(s.keyRing.isRotationInProgress && s.keyRing.retiringKeyIDs == [old])
            #expect(try s.keyUsage().byKeyID == [old: 13, new: 7])
            for (id, data) in contents { #expect(try s.get(id) == data) }
            // A put during the rotation wraps under the new KEK.
            try s.put(Data([1, 2, 3]), id: fixedID(500))
            #expect(try kid(of: s, fixedID(500)) == new)
            contents[fixedID(500)] = Data([1, 2, 3])
        }
        // As after a restart: the key file carries the rotation marker.
        let s = try open()
        #expect(s.keyRing.isRotationInProgress && s.keyRing.activeKeyID == new)
        for (id, data) in contents { #expect(try s.get(id) == data) }
        let rest = try s.rotateKeys()
        #expect(!rest.startedNewRotation, "a fresh rotation must not start while one is in progress")
        #expect(rest.finished && rest.rewrapped == 13 && rest.alreadyCurrent == 8 && rest.activeKeyID == new)
        #expect(rest.droppedKeyIDs == [old] && s.keyRing.keyIDs == [new])
        for (id, data) in contents { #expect(try s.get(id) == data) }
    }

    @Test("killed right after the new KEK was persisted (nothing re-wrapped yet): still readable, then finishes")
    func killedAfterBegin() throws {
        let contents: [UUID: Data]
        do {
            let s = try open()
            contents = try fill(s)
            let zero = try s.rotateKeys(limit: 0)
            #expect(zero.rewrapped == 0 && !zero.finished)
        }
        let s = try open()
        for (id, data) in contents { #expect(try s.get(id) == data) }
        let done = try s.rotateKeys()
        #expect(!done.startedNewRotation && done.finished && done.rewrapped == 20)
    }

    @Test("a damaged key file keeps the rotation open (the old KEK is not dropped) and is reported")
    func damagedSidecar() throws {
        let s = try open()
        let contents = try fill(s)
        var bytes = readFile(s.keyPath(fixedID(3)))
        bytes[bytes.count - 1] ^= 0xff
        writeFile(s.keyPath(fixedID(3)), bytes)
        let report = try s.rotateKeys()
        #expect(!report.finished && report.failed == [fixedID(3)] && report.rewrapped == 19)
        #expect(s.keyRing.isRotationInProgress && s.keyRing.keyIDs.count == 2)
        #expect(try s.keyUsage().byKeyID.values.reduce(0, +) == 20)
        try s.delete(fixedID(3))
        let done = try s.rotateKeys()
        #expect(done.finished && done.rewrapped == 0 && done.alreadyCurrent == 19)
        for (id, data) in contents where id != fixedID(3) { #expect(try s.get(id) == data) }
    }

    @Test("rotation is refused while another process-level user holds the key file")
    func refusedWhileShared() throws {
        let s = try open()
        _ = try fill(s)
        let other = try KeyRing.load(from: keyFile)  // like a running server
        #expect(errorCode { try s.rotateKeys() } == .conflict)
        #expect(!s.keyRing.isRotationInProgress)
        _ = other
    }

    @Test("puts racing a rotation in the same process all end up under the new KEK")
    func concurrentPuts() throws {
        let s = try open()
        _ = try fill(s)
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            if worker == 0 {
                do { _ = try s.rotateKeys() } catch { failures.add() }
            } else {
                for i in 0..<30 {
                    do { try s.put(Data([UInt8(i)]), id: fixedID(1000 * worker + i)) } catch { failures.add() }
                }
            }
        }
        #expect(failures.value == 0)
        if s.keyRing.isRotationInProgress { _ = try s.rotateKeys() }
        let usage = try s.keyUsage()
        #expect(usage.byKeyID == [s.keyRing.activeKeyID: 110])
        for id in try s.allIDs() { #expect(throws: Never.self) { try s.get(id) } }
    }
}
