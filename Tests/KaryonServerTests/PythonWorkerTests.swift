import Fluent
import Foundation
import KaryonAnalysis
import KaryonImaging
import KaryonStore
import KaryonTestSupport
import Testing
import Vapor
@testable import KaryonServer

/// `examples/python-worker/worker.py` run as a real subprocess against a real listener: the
/// protocol end to end, in another language, over TCP.
@Suite("The example Python worker over real HTTP")
struct PythonWorkerTests {
    static let script = Fixtures.repositoryRoot + "/examples/python-worker/worker.py"

    /// A 64×48 RGB PNG of seeded noise over a gradient, so that every GLCM property is non-trivial.
    static func texturedPNG() throws -> [UInt8] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var pixels: [UInt8] = []
        for y in 0..<48 {
            for x in 0..<64 {
                for c in 0..<3 {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    pixels.append(UInt8((x * 3 + y * 2 + c * 40) % 192 + Int(state >> 58)))
                }
            }
        }
        return try ImageCodec.encode(.uint8(try Image(width: 64, height: 48, channels: 3, pixels: pixels)), as: .png())
    }

    /// Starts the worker with the token in its environment (never on its command line).
    static func start(_ python: String, _ arguments: [String], token: String, log: String) throws -> Process {
        FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["KARYON_TOKEN": token, "PYTHONUNBUFFERED": "1"]) { $1 }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return process
    }

    /// Waits for `condition`, checking every 50 ms, up to `seconds`; false on timeout.
    static func eventually(seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    static func text(_ log: String) -> String {
        (try? String(contentsOfFile: log, encoding: .utf8)) ?? "(no log)"
    }

    @Test("worker.py registers, long-polls, downloads, computes with scikit-image and completes: the stored features equal Karyon's glcm within 1e-9; SIGTERM ends it cleanly",
          arguments: TestDatabase.all)
    func endToEnd(database: TestDatabase) async throws {
        let python = try ReferencePython.locate()
        try await TestServer.with(database) { server in
            let base = try await server.listen()
            let (access, _) = try await server.account("py@lab.example")
            let token = try await server.personalToken(access).secret
            let logs = TemporaryDirectory("python-worker")
            defer { try? FileManager.default.removeItem(atPath: logs.path) }
            let log = logs.path + "/worker.log"
            let worker = try Self.start(python, ["--url", base, "--max-jobs", "1", "--wait", "5"], token: token, log: log)
            defer { if worker.isRunning { worker.terminate() } }

            let registered = try await Self.eventually(seconds: 60) {
                if !worker.isRunning { return true }
                return try await Algorithm.find("skimage-glcm", on: server.app.db) != nil
            }
            let row = try #require(try await Algorithm.find("skimage-glcm", on: server.app.db), "not registered: \(Self.text(log))")
            #expect(registered && row.isExternal && row.columns == #"["contrast", "homogeneity", "energy", "correlation"]"#)

            let (_, _, study) = try await server.records(token: access, extractors: [["id": "skimage-glcm"]])
            let png = try Self.texturedPNG()
            #expect(try await server.upload([("texture.png", png)], study: study, token: access).status == .created)
            let exited = try await Self.eventually(seconds: 120) { !worker.isRunning }
            #expect(exited && worker.terminationStatus == 0, "worker: \(Self.text(log))")

            let result = try #require(try await ResultRecord.query(on: server.app.db).filter(\.$extractorID == "skimage-glcm").first(),
                                      "no result: \(Self.text(log))")
            #expect(result.extractorVersion == "1.0.0" && result.inputSHA256 == sha256Hex(png))
            let stored = try #require(try JSONSerialization.jsonObject(with: Data(result.features.utf8)) as? [String: Double])
            let glcm = try ExtractorRegistry.standard.configure("glcm", values: [
                "distances": .integerList([1]), "angles": .numberList([0, 45, 90, 135]), "levels": .integer(256),
                "symmetric": .boolean(true), "props": .textList(["contrast", "homogeneity", "energy", "correlation"]),
            ])
            let expected = try glcm.run(ExtractionInput(image: try ImageCodec.decode(data: png, name: "texture.png")), imageSHA256: sha256Hex(png))
            let names = ["contrast", "homogeneity", "energy", "correlation"]
            let reference = names.map { expected.features["\($0)_d1_mean"]?.doubleValue ?? .nan }
            #expect(reference.allSatisfy { $0.isFinite && $0 != 0 }, "\(reference)")
            let mismatch = firstMismatch(names.map { stored[$0] ?? .nan }, reference, absolute: 1e-9, relative: 1e-9)
            #expect(mismatch == nil, "\(mismatch ?? "") stored \(stored) vs Karyon \(reference)")
            let job = try #require(try await Job.query(on: server.app.db).filter(\.$extractorID == "skimage-glcm").first())
            #expect(job.state == "succeeded" && job.attempts == 1)

            // SIGTERM while it waits for work: it stops claiming and exits 0.
            let idle = try Self.start(python, ["--url", base, "--wait", "2", "--no-register"], token: token, log: log)
            defer { if idle.isRunning { idle.terminate() } }
            let signal = try #require(server.parts?.jobSignal)
            let claiming = try await Self.eventually(seconds: 60) {
                if !idle.isRunning { return true }
                return await signal.waiting > 0
            }
            #expect(claiming && idle.isRunning, "never claimed: \(Self.text(log))")
            idle.terminate()
            let stopped = try await Self.eventually(seconds: 30) { !idle.isRunning }
            #expect(stopped, "still running after SIGTERM: \(Self.text(log))")
            #expect(stopped && idle.terminationReason == .exit && idle.terminationStatus == 0, "\(Self.text(log))")
            #expect(Self.text(log).contains("exiting after 0 job(s)"))
        }
    }
}
