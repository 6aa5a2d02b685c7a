import Foundation
import Testing
@testable import KaryonStore

@Suite("KeyRing: the key file")
struct KeyRingTests {
    let temp = TempDir("keyring")
    var keyFile: String { temp.path + "/keys/kek.json" }

    @Test("created on first use: one 256-bit key, mode 0600 in a 0700 directory, reloads to the same ring")
    func create() throws {
        let kid: String
        do {
            let ring = try KeyRing.loadOrCreate(at: keyFile)
            kid = ring.activeKeyID
            #expect(ring.keyIDs == [kid] && !ring.isRotationInProgress && ring.path == keyFile)
        }
        #expect(try DurableFile.mode(of: keyFile) == 0o600)
        #expect(try DurableFile.mode(of: temp.path + "/keys") == 0o700)
        let json = try JSONSerialization.jsonObject(with: Data(readFile(keyFile))) as! [String: Any]
        #expect(json["format"] as? String == "karyon-kek" && json["version"] as? Int == 1 && json["active"] as? String == kid)
        let key = ((json["keys"] as! [[String: Any]])[0]["key"] as! String)
        #expect(Data(base64Encoded: key)?.count == 32)
        #expect(try KeyRing.load(from: keyFile).activeKeyID == kid)
        #expect(try KeyRing.loadOrCreate(at: keyFile).activeKeyID == kid)  // never replaced
    }

    @Test("a key file readable by group or others is refused with the chmod that fixes it", arguments: [0o644, 0o640, 0o604, 0o660])
    func unsafeMode(mode: Int) throws {
        do { _ = try KeyRing.loadOrCreate(at: keyFile) }
        chmod(keyFile, mode_t(mode))
        do {
            _ = try KeyRing.load(from: keyFile)
            Issue.record("loaded a key file with mode \(String(mode, radix: 8))")
        } catch let error as StoreError {
            #expect(error.code == .keyUnavailable)
            #expect(error.message.contains("chmod 600"))
        }
        #expect(errorCode { try KeyRing.loadOrCreate(at: keyFile) } == .keyUnavailable)
    }

    @Test("missing file: load refuses (never creates)")
    func missing() {
        #expect(errorCode { try KeyRing.load(from: keyFile) } == .keyUnavailable)
        #expect(!FileManager.default.fileExists(atPath: keyFile))
    }

    @Test("malformed key files are refused", arguments: [
        "not json",
        #"{"format":"other","version":1,"active":"a","retiring":[],"keys":[{"kid":"a","created":"","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}"#,
        #"{"format":"karyon-kek","version":2,"active":"a","retiring":[],"keys":[{"kid":"a","created":"","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}"#,
        #"{"format":"karyon-kek","version":1,"active":"b","retiring":[],"keys":[{"kid":"a","created":"","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}"#,
        #"{"format":"karyon-kek","version":1,"active":"a","retiring":["c"],"keys":[{"kid":"a","created":"","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}"#,
        #"{"format":"karyon-kek","version":1,"active":"a","retiring":[],"keys":[{"kid":"a","created":"","key":"AAAA"}]}"#,
        #"{"format":"karyon-kek","version":1,"active":"a b","retiring":[],"keys":[{"kid":"a b","created":"","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}"#,
    ])
    func malformed(text: String) throws {
        try FileManager.default.createDirectory(atPath: temp.path + "/keys", withIntermediateDirectories: true)
        writeFile(keyFile, Array(text.utf8))
        chmod(keyFile, 0o600)
        #expect(errorCode { try KeyRing.load(from: keyFile) } == .keyUnavailable)
    }

    @Test("a literal well-formed key file loads")
    func literal() throws {
        try FileManager.default.createDirectory(atPath: temp.path + "/keys", withIntermediateDirectories: true)
        writeFile(keyFile, Array(#"""
            {"format":"karyon-kek","version":1,"active":"kek-b","retiring":["kek-a"],"keys":[
             {"kid":"kek-a","created":"2025-01-01T00:00:00Z","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
             {"kid":"kek-b","created":"2025-02-01T00:00:00Z","key":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}]}
            """#.utf8))
        chmod(keyFile, 0o600)
        let ring = try KeyRing.load(from: keyFile)
        #expect(ring.activeKeyID == "kek-b" && ring.retiringKeyIDs == ["kek-a"] && ring.isRotationInProgress)
        #expect(ring.keyIDs == ["kek-a", "kek-b"])
    }
}
