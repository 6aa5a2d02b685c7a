import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KaryonClient
import KaryonImaging
import KaryonTestSupport
import Testing

/// A `karyon up` of the built binary on a free port with a temporary data directory, signed in
/// with a personal token, and a study without extractors (uploads create no jobs).
struct TestServer {
    let server: LocalServer
    let client: APIClient
    let studyID: String
    var token: String { client.token ?? "" }

    static func start(_ temp: TemporaryDirectory, extractors: [String] = [], environment: [String: String] = [:],
                      arguments: [String] = []) async throws -> TestServer {
        let server = try await LocalServer.start(executable: KaryonProcess.binary, dataDirectory: temp.path + "/data",
                                                 logFile: temp.path + "/server.log", readyTimeout: 60, environment: environment,
                                                 arguments: arguments)
        do {
            let client = try await LoadTest.signIn(to: server)
            let schedule = try LoadSchedule(burst: 1, every: 0, add: 0, duration: 0, timeScale: 1)
            let study = try await LoadTest(schedule: schedule, side: 64, extractors: extractors).createStudy(client: client)
            return TestServer(server: server, client: client, studyID: study.id)
        } catch {
            server.stop()
            throw error
        }
    }

    /// Images of the study, read independently of `karyon ingest` (all pages).
    func images() async throws -> [ImageInfo] {
        var out: [ImageInfo] = []
        for offset in stride(from: 0, to: 10_000, by: 200) {
            let page = try await client.call(.GET, "/api/v1/studies/\(studyID)/images?limit=200&offset=\(offset)", as: Page<ImageInfo>.self)
            out += page.items
            if out.count >= page.total || page.items.isEmpty { break }
        }
        return out
    }

    func ingest(_ directory: String, _ extra: [String] = []) throws -> KaryonProcess.Output {
        try KaryonProcess.run(["ingest", directory, "--study", studyID, "--api", server.url] + extra, environment: ["KARYON_TOKEN": token])
    }
}

/// Distinct small gray images: pixel values from a seeded linear congruential generator.
func grayPNG(seed: UInt64, side: Int = 48, format: EncodeFormat = .png()) throws -> [UInt8] {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    let pixels = (0..<(side * side)).map { _ -> UInt8 in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
    return try ImageCodec.encode(.uint8(try Image(width: side, height: side, channels: 1, pixels: pixels)), as: format)
}

@Suite("karyon ingest and karyon loadtest against a real server", .serialized)
final class IngestLoadTestTests {
    let temp = TemporaryDirectory("ingest")

    /// Each test's servers are stopped by then; their data directories go with the test's.
    deinit { try? FileManager.default.removeItem(atPath: temp.path) }

    /// A new folder in the test's directory.
    func makeFolder(_ name: String) throws -> String {
        let path = temp.path + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `ingest: N files: uploaded U, skipped S, rejected R, failed F; …` → (N, U, S, R, F).
    func counts(_ summary: String) -> [Int]? {
        guard let line = summary.split(separator: "\n").last(where: { $0.hasPrefix("ingest: ") && $0.contains(" files: uploaded ") }) else { return nil }
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        return numbers.count >= 5 ? Array(numbers.prefix(5)) : nil
    }

    @Test("uploads a folder (by magic bytes, not extension); a second run skips everything; --recursive adds subfolders")
    func uploadAndResume() async throws {
        let server = try await TestServer.start(temp)
        defer { server.server.stop() }
        let folder = try makeFolder("images")
        try FileManager.default.createDirectory(atPath: folder + "/deeper", withIntermediateDirectories: true)
        for i in 0..<5 { FileManager.default.createFile(atPath: "\(folder)/field-\(i).png", contents: Data(try grayPNG(seed: UInt64(i)))) }
        FileManager.default.createFile(atPath: folder + "/slide.TIF", contents: Data(try grayPNG(seed: 50, format: .tiff())))
        FileManager.default.createFile(atPath: folder + "/scan-0007", contents: Data(try grayPNG(seed: 51)))  // a PNG without extension
        FileManager.default.createFile(atPath: folder + "/README.txt", contents: Data("notes about the slides\n".utf8))
        FileManager.default.createFile(atPath: folder + "/.hidden.png", contents: Data(try grayPNG(seed: 52)))
        for i in 0..<2 { FileManager.default.createFile(atPath: "\(folder)/deeper/sub-\(i).png", contents: Data(try grayPNG(seed: UInt64(100 + i)))) }

        let first = try server.ingest(folder, ["--parallel", "3"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(counts(first.stdout) == [7, 7, 0, 0, 0], "\(first.stdout)")
        #expect(first.stderr.contains("1 other files ignored"), "\(first.stderr)")
        var stored = try await server.images()
        #expect(stored.count == 7)
        #expect(Set(stored.compactMap(\.originalName)) == Set((0..<5).map { "field-\($0).png" } + ["slide.TIF", "scan-0007"]))

        let again = try server.ingest(folder)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(counts(again.stdout) == [7, 0, 7, 0, 0], "\(again.stdout)")
        #expect(try await server.images().count == 7)

        let recursive = try server.ingest(folder, ["--recursive"])
        #expect(recursive.status == 0, "\(recursive.stderr)")
        #expect(counts(recursive.stdout) == [9, 2, 7, 0, 0], "\(recursive.stdout)")
        stored = try await server.images()
        #expect(stored.count == 9 && Set(stored.map(\.sha256)).count == 9)
        #expect(stored.contains { $0.originalName == "deeper/sub-1.png" })
    }

    @Test("a file that is not an image is rejected (locally by its bytes, or by the server), reported, and the exit status is 1")
    func rejects() async throws {
        let server = try await TestServer.start(temp)
        defer { server.server.stop() }
        let folder = try makeFolder("mixed")
        for i in 0..<2 { FileManager.default.createFile(atPath: "\(folder)/good-\(i).png", contents: Data(try grayPNG(seed: UInt64(200 + i)))) }
        FileManager.default.createFile(atPath: folder + "/notes.png", contents: Data("this is text, not a PNG\n".utf8))
        FileManager.default.createFile(atPath: folder + "/broken.tif", contents: Data(Array("II*\0".utf8) + [UInt8](repeating: 0x41, count: 64)))

        let r = try server.ingest(folder)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(counts(r.stdout) == [4, 2, 0, 2, 0], "\(r.stdout)")
        #expect(r.stderr.contains("rejected notes.png: not a PNG, JPEG or TIFF"), "\(r.stderr)")
        #expect(r.stderr.contains("rejected broken.tif: 422 invalid_image"), "\(r.stderr)")
        #expect(try await server.images().count == 2)
    }

    @Test("killed half-way, a second run completes the folder with no image stored twice")
    func interruptedThenResumed() async throws {
        let server = try await TestServer.start(temp)
        defer { server.server.stop() }
        let folder = try makeFolder("many")
        let total = 150
        for i in 0..<total {
            FileManager.default.createFile(atPath: String(format: "%@/f-%03d.png", folder, i), contents: Data(try grayPNG(seed: UInt64(1000 + i), side: 96)))
        }
        let process = try KaryonProcess.launch(["ingest", folder, "--study", server.studyID, "--api", server.server.url, "--parallel", "1"],
                                               environment: ["KARYON_TOKEN": server.token])
        // Kill it once a few images are stored (bounded: 30 s).
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, process.isRunning {
            let page = try await server.client.call(.GET, "/api/v1/studies/\(server.studyID)/images?limit=1", as: Page<ImageInfo>.self)
            if page.total >= 3 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let storedAtKill = try await server.images().count
        #expect(process.terminationReason == .uncaughtSignal, "the first run ended by itself before it could be interrupted")
        #expect(storedAtKill >= 3 && storedAtKill < total, "\(storedAtKill) stored when killed")

        let resumed = try server.ingest(folder, ["--parallel", "4"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let c = counts(resumed.stdout)
        #expect(c?[0] == total && c?[3] == 0 && c?[4] == 0, "\(resumed.stdout)")
        // Everything stored before the resume is skipped (an upload in flight at the kill may have
        // committed after the count: at most one more).
        #expect((c?[2] ?? 0) >= storedAtKill && (c?[2] ?? 0) <= storedAtKill + 1, "\(resumed.stdout)")
        #expect((c?[1] ?? 0) + (c?[2] ?? 0) == total)
        let stored = try await server.images()
        #expect(stored.count == total)
        #expect(Set(stored.map(\.sha256)).count == total)
    }

    @Test("karyon up wakes its worker processes when an upload enqueues jobs: claimed at once, not at the next poll")
    func workersWokenByUploads() async throws {
        // One slot (so the pool cannot grow into a fresh claim) and a poll of a minute: only the
        // wake pipe can get the job claimed within seconds.
        let server = try await TestServer.start(temp, extractors: ["intensity"], environment: ["KARYON_WORKER_POLL_MS": "60000"],
                                                arguments: ["--worker-max", "1"])
        defer { server.server.stop() }
        let log = { (try? String(contentsOfFile: server.server.logFile, encoding: .utf8)) ?? "" }
        let started = await eventually(within: 60) { log().contains("worker started [extractors: intensity") }
        try #require(started, "the intensity worker did not start: \(log().suffix(2000))")
        try await Task.sleep(for: .seconds(1))  // its first claim has found nothing; it now waits a minute
        let folder = try makeFolder("wake")
        FileManager.default.createFile(atPath: folder + "/field.png", contents: Data(try grayPNG(seed: 7)))
        let ingest = try server.ingest(folder)
        try #require(ingest.status == 0, "\(ingest.stderr)")
        var status = ""
        let done = await eventually(within: 30) {
            status = (try? await server.client.call(.GET, "/api/v1/studies/\(server.studyID)", as: StudyInfo.self).status) ?? ""
            return status == "success"
        }
        #expect(done, "study status \(status) after 30 s: \(log().suffix(2000))")
    }

    @Test("bad input and a bad token: one-line errors, exit status 1")
    func badInput() async throws {
        let server = try await TestServer.start(temp)
        defer { server.server.stop() }
        let folder = try makeFolder("one")
        FileManager.default.createFile(atPath: folder + "/a.png", contents: Data(try grayPNG(seed: 7)))
        let url = server.server.url
        let cases: [([String], [String: String], String)] = [
            (["ingest", temp.path + "/missing", "--study", server.studyID, "--api", url], ["KARYON_TOKEN": server.token], "no such directory"),
            (["ingest", folder, "--study", server.studyID, "--api", "ftp://example"], ["KARYON_TOKEN": server.token], "--api must be"),
            (["ingest", folder, "--study", "nope", "--api", url], ["KARYON_TOKEN": server.token], "study id"),
            (["ingest", folder, "--study", server.studyID, "--api", url], ["KARYON_TOKEN": "kyn_not-a-real-token"], "refused the token (401"),
            (["ingest", folder, "--study", UUID().uuidString, "--api", url], ["KARYON_TOKEN": server.token], "not found"),
            (["ingest", folder, "--study", server.studyID, "--api", url, "--parallel", "0"], ["KARYON_TOKEN": server.token], "--parallel"),
            (["ingest", folder, "--study", server.studyID, "--api", url], ["KARYON_TOKEN": ""], "no token"),
            (["loadtest", "--every", "20x", "--add", "1", "--duration", "1h"], [:], "not a duration"),
            (["loadtest", "--extractors", "intensity,nope"], [:], "unknown extractor"),
            (["loadtest", "--add", "5", "--every", "2m", "--duration", "1m"], [:], "would never happen"),
            (["loadtest", "--time-scale", "0"], [:], "--time-scale"),
            (["loadtest", "--api", "not a url", "--token", "x"], [:], "--api must be"),
        ]
        for (arguments, environment, word) in cases {
            let r = try KaryonProcess.run(arguments, environment: environment)
            #expect(r.status == 1, "\(arguments): status \(r.status)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("karyon: error:"), "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains(word), "\(arguments): \(r.stderr)")
        }
        #expect(try await server.images().isEmpty)
    }

    @Test("a tiny load test (burst 4, then 2 more after 2 s) ends with nothing lost or duplicated and a JSON report")
    func tinyLoadTest() throws {
        let json = temp.path + "/report.json"
        let r = try KaryonProcess.run(["loadtest", "--burst", "4", "--every", "2s", "--add", "2", "--duration", "4s", "--time-scale", "1",
                                       "--size", "128", "--extractors", "intensity", "--timeout", "2m", "--json", json, "--physical-limit",
                                       "--limit-sample", "2"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("result    PASS"), "\(r.stdout)")
        let data = try #require(FileManager.default.contents(atPath: json))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["images"] as? Int == 6)
        #expect(report["jobs_expected"] as? Int == 6)
        #expect(report["succeeded"] as? Int == 6)
        #expect(report["lost"] as? Int == 0 && report["duplicated"] as? Int == 0)
        #expect(report["images_fully_processed"] as? Int == 6)
        #expect((report["throughput_images_per_second"] as? Double ?? 0) > 0)
        let latency = try #require(report["latency_seconds"] as? [String: Any])
        let p50 = try #require(latency["p50"] as? Double), p99 = try #require(latency["p99"] as? Double)
        #expect(p50 >= 0 && p50 <= p99)
        let peaks = try #require(report["extractor_peaks"] as? [[String: Any]])
        #expect(peaks.count == 1 && peaks[0]["id"] as? String == "intensity")
        #expect(peaks[0].keys.contains("peak_pool_size") && peaks[0]["peak_running"] is Int, "unknown peaks are null, not missing")
        #expect((report["queue_samples"] as? Int ?? 0) >= 2)
        let limit = try #require(report["physical_limit"] as? [String: Any])
        #expect((limit["images_per_second"] as? Double ?? 0) > 0 && limit["ratio"] is Double)
        #expect(report["spawned"] as? Bool == true)
    }
}

extension IngestLoadTestTests {
    /// Processes whose command line mentions `text` (a zombie has none, as it should).
    func processes(mentioning text: String) -> [String] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return ids.filter { $0.allSatisfy(\.isNumber) }.filter { id in
            guard let data = FileManager.default.contents(atPath: "/proc/\(id)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(text)
        }
    }

    @Test("SIGINT during a load test stops its server and removes its temporary directory (exit status 130)")
    func interruptedLoadTest() async throws {
        let tmp = try makeFolder("tmp")
        let process = try KaryonProcess.launch(["loadtest", "--burst", "400", "--size", "64", "--extractors", "nuclei"], environment: ["TMPDIR": tmp])
        // Wait (bounded: 60 s) until its server has started, then interrupt.
        var workspace: String?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning, workspace == nil {
            workspace = (try? FileManager.default.contentsOfDirectory(atPath: tmp))?.first { name in
                FileManager.default.fileExists(atPath: "\(tmp)/\(name)/data/initial-admin-password")
            }.map { "\(tmp)/\($0)" }
            try await Task.sleep(for: .milliseconds(50))
        }
        let dir = try #require(workspace, "the load test's server never started")
        try await Task.sleep(for: .milliseconds(500))
        #expect(processes(mentioning: dir).count == 1, "one karyon up serving \(dir)")
        kill(process.processIdentifier, SIGINT)
        let stop = Date().addingTimeInterval(30)
        while process.isRunning, Date() < stop { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 130)
        #expect(!FileManager.default.fileExists(atPath: dir))
        #expect(processes(mentioning: dir).isEmpty)
    }
}

@Suite("load test schedule, durations and percentiles")
struct LoadScheduleTests {
    @Test("durations: units, compounds, bare seconds; malformed ones are refused")
    func durations() throws {
        #expect(try DurationText.parse("20m", option: "--every") == 1200)
        #expect(try DurationText.parse("2h", option: "--every") == 7200)
        #expect(try DurationText.parse("1h30m", option: "--every") == 5400)
        #expect(try DurationText.parse("250ms", option: "--every") == 0.25)
        #expect(try DurationText.parse("45", option: "--every") == 45)
        for bad in ["", "20x", "m", "-3s", "1h-2m", "abc"] {
            #expect(throws: ClientError.self, "\(bad)") { try DurationText.parse(bad, option: "--every") }
        }
        #expect(DurationText.format(5400) == "1h30m" && DurationText.format(0.25) == "250ms" && DurationText.format(2) == "2s")
    }

    @Test("the paper's schedule: 2500 at once, 1000 at 20, 40, 60, 80, 100 minutes; the time scale divides the times")
    func paperSchedule() throws {
        let s = try LoadSchedule(burst: 2500, every: 1200, add: 1000, duration: 7200, timeScale: 60)
        #expect(s.totalImages == 7500)
        #expect(s.batches.map(\.count) == [2500, 1000, 1000, 1000, 1000, 1000])
        #expect(s.batches.map(\.at) == [0, 1200, 2400, 3600, 4800, 6000])
        #expect(s.batches.map(\.realAt) == [0, 20, 40, 60, 80, 100])
        let tiny = try LoadSchedule(burst: 4, every: 2, add: 2, duration: 4, timeScale: 1)
        #expect(tiny.batches.map(\.realAt) == [0, 2] && tiny.totalImages == 6)
        #expect(throws: ClientError.self) { try LoadSchedule(burst: 0, every: 1, add: 0, duration: 0, timeScale: 1) }
        #expect(throws: ClientError.self) { try LoadSchedule(burst: 1, every: 1, add: 1, duration: 1, timeScale: 1) }
    }

    @Test("nearest-rank percentiles")
    func percentiles() {
        let l = LoadReport.Latency((1...100).map(Double.init).reversed())
        #expect(l.p50 == 50 && l.p95 == 95 && l.p99 == 99 && l.max == 100)
        let one = LoadReport.Latency([3.5])
        #expect(one.p50 == 3.5 && one.p99 == 3.5)
        #expect(LoadReport.Latency([]).p50 == nil)
    }

    @Test("idempotency keys depend on the study and the bytes only, and are valid header values")
    func idempotencyKey() {
        let sha = String(repeating: "ab", count: 32)
        let study = "7F0C5D3E-1A2B-4C5D-8E9F-0A1B2C3D4E5F"
        let a = ImageUploader.idempotencyKey(study: study, sha256: sha)
        #expect(a == ImageUploader.idempotencyKey(study: study.lowercased(), sha256: sha.uppercased()))
        #expect(a != ImageUploader.idempotencyKey(study: UUID().uuidString, sha256: sha))
        #expect(a != ImageUploader.idempotencyKey(study: study, sha256: String(repeating: "cd", count: 32)))
        #expect(a.count <= 200 && a.unicodeScalars.allSatisfy { $0.value >= 0x21 && $0.value < 0x7F })
    }
}
