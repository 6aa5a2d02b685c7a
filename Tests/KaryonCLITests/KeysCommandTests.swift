import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KaryonStore
import KaryonTestSupport
import Testing

@Suite("karyon keys (KeysCommand)")
struct KeysCommandTests {
    let temp = TemporaryDirectory("keys")
    var dataDir: String { temp.path + "/data" }
    var keyFile: String { dataDir + "/keys/kek.json" }

    /// Runs the `karyon` binary with `environment` added to the inherited one.
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> KaryonProcess.Output {
        try KaryonProcess.run(arguments, environment: environment)
    }

    /// Stores `count` small blobs (fixed contents) and closes the store, releasing the key file.
    func populate(_ count: Int) throws -> [UUID: Data] {
        let store = try EncryptedBlobStore.open(directory: dataDir + "/blobs", keyFile: keyFile)
        let ids = (0..<count).map { UUID(uuidString: String(format: "%08x-1111-4000-8000-%012x", $0, $0)) ?? UUID() }
        let contents = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, Data("blob \($0) ".utf8 + [UInt8](repeating: UInt8($0 % 251), count: 40))) })
        let failures = LockedCount()
        DispatchQueue.concurrentPerform(iterations: 4) { part in
            for id in ids[(part * count / 4)..<((part + 1) * count / 4)] {
                do { try store.put(contents[id]!, id: id) } catch { failures.add() }
            }
        }
        #expect(failures.value == 0)
        return contents
    }

    func keyFileJSON() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: keyFile) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    /// `.key` files whose bytes name `kid`.
    func sidecars(under kid: String) -> Int {
        let needle = Data(kid.utf8)
        let enumerator = FileManager.default.enumerator(atPath: dataDir + "/blobs")!
        var n = 0
        while let name = enumerator.nextObject() as? String {
            guard name.hasSuffix(".key"), !name.contains("/."),
                  let data = FileManager.default.contents(atPath: dataDir + "/blobs/" + name) else { continue }
            if data.range(of: needle) != nil { n += 1 }
        }
        return n
    }

    @Test("status before anything was stored; KARYON_DATA_DIR is the default data directory")
    func statusEmpty() throws {
        let r = try run(["keys", "status"], environment: ["KARYON_DATA_DIR": dataDir])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("key file: \(keyFile) (not created yet"))
        #expect(r.stdout.contains("blobs: 0"))
        #expect(!FileManager.default.fileExists(atPath: keyFile))
    }

    @Test("rotate then status: every blob under one new key; KARYON_KEY_FILE moves the key file")
    func rotateAndStatus() throws {
        let elsewhere = temp.path + "/secrets/kek.json"
        let env = ["KARYON_DATA_DIR": dataDir, "KARYON_KEY_FILE": elsewhere]
        let old: String
        do {
            let store = try EncryptedBlobStore.open(directory: dataDir + "/blobs", keyFile: elsewhere)
            old = store.keyRing.activeKeyID
            for n in 0..<5 { try store.put(Data([UInt8(n)]), id: UUID()) }
            let busy = try run(["keys", "rotate"], environment: env)  // this store still holds the key file
            #expect(busy.status == 1 && busy.stderr.hasPrefix("karyon: error:") && busy.stderr.contains("stop it"), "\(busy.stderr)")
        }
        let r = try run(["keys", "rotate"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("started a rotation") && r.stdout.contains("retiring \(old)"))
        #expect(r.stdout.contains("re-wrapped 5 data key(s); 0 already under"))
        #expect(r.stdout.contains("rotation finished: dropped \(old)"))
        let status = try run(["keys", "status", "--data-dir", dataDir, "--key-file", elsewhere])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("rotation in progress: no") && status.stdout.contains("blobs: 5"))
        #expect(status.stdout.split(separator: "\n").filter { $0.hasPrefix("  kek-") && $0.hasSuffix(": 5 (active)") }.count == 1)
        #expect(!status.stdout.contains(old))
    }

    @Test("blobs without their key file: one-line keyUnavailable error, no key created")
    func missingKey() throws {
        _ = try populate(3)
        try FileManager.default.removeItem(atPath: keyFile)
        for command in ["rotate", "status"] {
            let r = try run(["keys", command, "--data-dir", dataDir])
            #expect(r.status == 1 && r.stdout.isEmpty, "\(command): \(r.stdout)")
            #expect(r.stderr.hasPrefix("karyon: error: no key file at \(keyFile)") && r.stderr.split(separator: "\n").count == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: keyFile))
    }

    @Test("SIGKILL half-way through `keys rotate` of 2000 blobs: all still decrypt; rerun finishes with one key")
    func killedRotation() throws {
        let contents = try populate(2000)
        let old = try #require(keyFileJSON()?["active"] as? String)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KaryonProcess.binary)
        process.arguments = ["keys", "rotate", "--data-dir", dataDir]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()

        // Wait until the new key is persisted and a first batch of key files carries it, then kill.
        let deadline = Date().addingTimeInterval(120)
        var new: String?
        var rewrapped = 0
        while process.isRunning, Date() < deadline {
            if new == nil, let json = keyFileJSON(), let retiring = json["retiring"] as? [String], !retiring.isEmpty {
                new = json["active"] as? String
            }
            if let new { rewrapped = sidecars(under: new) }
            if rewrapped >= 50 { break }
            usleep(2000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "rotate finished before it could be killed")
        let newKid = try #require(new)

        do {
            let store = try EncryptedBlobStore(directory: dataDir + "/blobs", keyRing: KeyRing.load(from: keyFile))
            #expect(store.keyRing.isRotationInProgress && store.keyRing.keyIDs == [old, newKid].sorted())
            let usage = try store.keyUsage()
            #expect(usage.byKeyID[old, default: 0] + usage.byKeyID[newKid, default: 0] == 2000 && usage.damaged.isEmpty)
            // Killed half-way: some data keys re-wrapped, some not.
            #expect(usage.byKeyID[newKid, default: 0] >= 50 && usage.byKeyID[old, default: 0] > 0, "\(usage.byKeyID)")
            var wrong = 0
            for (id, data) in contents where (try? store.get(id)) != data { wrong += 1 }
            #expect(wrong == 0, "\(wrong) blobs unreadable after the kill")
        }
        let midway = try run(["keys", "status", "--data-dir", dataDir])
        #expect(midway.stdout.contains("rotation in progress: yes (retiring \(old)"), "\(midway.stdout)\(midway.stderr)")

        let again = try run(["keys", "rotate", "--data-dir", dataDir])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("resumed the rotation in progress: active key \(newKid)"), "\(again.stdout)")
        #expect(again.stdout.contains("rotation finished: dropped \(old)"))
        let done = try run(["keys", "status", "--data-dir", dataDir])
        #expect(done.stdout.contains("rotation in progress: no") && done.stdout.contains("blobs: 2000"))
        #expect(done.stdout.contains("  \(newKid): 2000 (active)") && !done.stdout.contains(old), "\(done.stdout)")
        let store = try EncryptedBlobStore(directory: dataDir + "/blobs", keyRing: KeyRing.load(from: keyFile))
        var wrong = 0
        for (id, data) in contents where (try? store.get(id)) != data { wrong += 1 }
        #expect(wrong == 0)
    }
}

final class LockedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
