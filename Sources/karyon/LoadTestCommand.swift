import ArgumentParser
import Foundation
import KaryonAnalysis
import KaryonClient
import KaryonPipeline

/// `karyon loadtest`: the pipeline's burst-load test, with an optional physical-limit comparison.
struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Burst-load the analysis pipeline with synthetic fields and report throughput, latency, pool sizes and lost work.",
        discussion: """
            Uploads --burst fields at once, then --add more every --every until --duration, the schedule divided by \
            --time-scale (the CBIR paper's test: --burst 2500 --every 20m --add 1000 --duration 2h; --time-scale 60 runs \
            it in 2 minutes). Without --api it starts its own `karyon up` on a free 127.0.0.1 port with a temporary data \
            directory and stops it at the end. Exits 1 when a job was lost or a result duplicated. See docs/pipeline.md.
            """)

    @Option(help: "Fields uploaded at once at the start.")
    var burst = 100

    @Option(help: "Interval between additions (e.g. 30s, 20m, 2h).")
    var every = "20m"

    @Option(help: "Fields added at each interval (0: the burst alone).")
    var add = 0

    @Option(help: "Length of the schedule; additions happen at every multiple of --every before it.")
    var duration = "0s"

    @Option(name: .customLong("time-scale"), help: "Divides every time of the schedule (60: an hour in a minute).")
    var timeScale: Double = 1

    @Option(help: "Side of the square synthetic fields in pixels (16 to 4096).")
    var size = 512

    @Option(help: "Comma-separated extractors the study subscribes to (default parameters).")
    var extractors = "intensity,glcm,nuclei"

    @Option(help: "Uploads in flight at once.")
    var concurrency = 4

    @Option(help: "How long to wait for the jobs after the last upload.")
    var timeout = "30m"

    @Option(help: "Seed of the first field; field i uses seed + i.")
    var seed: UInt64 = 1

    @Option(help: "Target a running server at this URL instead of starting one (needs --token or $KARYON_TOKEN).")
    var api: String?

    @Option(help: "Token for --api (default: $KARYON_TOKEN).")
    var token: String?

    @Option(help: "Also write the report as JSON to this file.")
    var json: String?

    @Flag(name: .customLong("physical-limit"),
          help: "Time the same extractors over sample fields in a tight loop first, and compare the throughput with cores ÷ CPU time per image.")
    var physicalLimit = false

    @Option(name: .customLong("limit-sample"), help: "Fields timed for --physical-limit.")
    var limitSample = 20

    @Flag(help: "Keep the temporary directory (fields, the started server's data and log).")
    var keep = false

    func run() async throws {
        let schedule = try LoadSchedule(burst: burst, every: try DurationText.parse(every, option: "--every"), add: add,
                                        duration: try DurationText.parse(duration, option: "--duration"), timeScale: timeScale)
        guard (16...4096).contains(size) else { throw CLIError("--size must be 16 to 4096 pixels, got \(size)") }
        guard (1...10_000).contains(limitSample) else { throw CLIError("--limit-sample must be 1 to 10000, got \(limitSample)") }
        let ids = extractors.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !ids.isEmpty, Set(ids).count == ids.count else { throw CLIError("--extractors must list distinct extractor ids, got '\(extractors)'") }
        let configured = try ids.map { try ExtractorRegistry.standard.configure($0) }
        let test = try LoadTest(schedule: schedule, side: size, extractors: ids, concurrency: concurrency,
                                timeout: try DurationText.parse(timeout, option: "--timeout"))
        if let json { try Self.checkWritable(json) }
        var target: APIClient?
        if let api {
            target = try ClientOptions.client(api: api, token: token)
        } else if token != nil {
            throw CLIError("--token is for --api; without --api the load test starts its own server and signs in itself")
        }

        let workspace = try Workspace(keep: keep)
        defer { workspace.close() }
        let progress = ProgressLine()

        let total = schedule.totalImages
        progress.note("loadtest: rendering \(total) fields \(size)×\(size)…")
        let rendered = try await RenderedFields.render(count: total, side: size, seed: seed, pixelSizeMicrons: test.pixelSizeMicrons,
                                                       into: workspace.path + "/fields") { done in
            progress.update("loadtest: rendered \(done)/\(total) fields", force: done == total)
        }
        progress.finish()

        // The physical limit is timed before the run and again after it (the server idle), and the
        // two averaged: a shared or thermally throttled machine drifts, and the run sits in between.
        var limit: PhysicalLimit?
        let sample = physicalLimit
            ? try rendered.fields.prefix(limitSample).map { (bytes: try Data(contentsOf: URL(fileURLWithPath: $0.path)), sha256: $0.sha256) }
            : []
        let pixelSize = test.pixelSizeMicrons
        func timeLimit() async throws -> PhysicalLimit {
            progress.note("loadtest: timing \(ids.joined(separator: ", ")) on \(sample.count) fields in a tight loop…")
            return try await JobRunner.offload { try PhysicalLimit.measure(images: sample, extractors: configured, pixelSizeMicrons: pixelSize) }
        }
        if physicalLimit { limit = try await timeLimit() }

        let client: APIClient
        if let target {
            client = target
        } else {
            progress.note("loadtest: starting karyon up…")
            let server = try await LocalServer.start(executable: LocalServer.currentExecutable, dataDirectory: workspace.path + "/data",
                                                     logFile: workspace.path + "/server.log") { workspace.server = $0 }
            client = try await LoadTest.signIn(to: server)
        }
        let study = try await test.createStudy(client: client)
        for c in configured where !study.extractors.contains(where: { $0.id == c.descriptor.id && $0.parameterHash == c.parameterHash }) {
            throw CLIError("the server resolved \(c.descriptor.id)'s parameters differently from this program (another version?); "
                           + "the physical limit would not measure the same work")
        }
        progress.note("loadtest: study \(study.id) at \(client.baseURL); uploading on the schedule…")
        let cpuBefore = PhysicalLimit.processCPUSeconds()
        var report = try await test.run(client: client, study: study, fields: rendered.fields, server: client.baseURL,
                                        spawned: target == nil, renderSeconds: rendered.seconds) { event in
            switch event {
            case .uploading(let acknowledged, let failed, let total):
                progress.update("loadtest: uploaded \(acknowledged)/\(total)" + (failed > 0 ? ", \(failed) failed" : ""))
            case .waiting(let ended, let expected):
                progress.update("loadtest: jobs ended \(ended)/\(expected)", force: true)
            case .collecting(let done, let total):
                progress.update("loadtest: reading results \(done)/\(total)", force: done == total)
            }
        }
        progress.finish()
        report.loadGeneratorCPUSeconds = PhysicalLimit.processCPUSeconds() - cpuBefore
        if let limit {
            let after = try await timeLimit()
            report.physicalLimit = .init(before: limit, after: after, throughput: report.throughputImagesPerSecond)
        }
        if let server = workspace.server, let status = server.stop(), status != 0 {
            progress.note("loadtest: karyon up exited with status \(status); see \(server.logFile)")
        }
        emit(report.text)
        if let json { try report.json.write(to: URL(fileURLWithPath: json)) }
        if keep { progress.note("loadtest: kept \(workspace.path)") }
        if !report.passed { throw ExitCode(1) }
    }

    static func checkWritable(_ path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent.isEmpty ? "." : parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError("--json: no such directory: \(parent)")
        }
    }
}

/// The load test's temporary directory and the server it started: cleaned up at the end, and on
/// SIGINT/SIGTERM (the server is stopped, the directory removed unless kept, exit status 130).
final class Workspace: @unchecked Sendable {
    let path: String
    let keep: Bool
    private let lock = NSLock()
    private var _server: LocalServer?
    private var signals: [any DispatchSourceSignal] = []

    var server: LocalServer? {
        get {
            lock.lock()
            defer { lock.unlock() }
            return _server
        }
        set {
            lock.lock()
            _server = newValue
            lock.unlock()
        }
    }

    init(keep: Bool) throws {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("karyon-loadtest-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CLIError("cannot create a temporary directory in \(NSTemporaryDirectory())") }
        path = String(cString: made)
        self.keep = keep
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                self?.close()
                FileHandle.standardError.write(Data("\nkaryon: loadtest interrupted\n".utf8))
                Foundation.exit(130)
            }
            source.resume()
            signals.append(source)
        }
    }

    /// Stops the server if it still runs and removes the directory unless kept.
    func close() {
        server?.stop()
        if !keep { try? FileManager.default.removeItem(atPath: path) }
    }
}
