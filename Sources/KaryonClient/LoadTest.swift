import Foundation

/// `karyon loadtest`: the burst-load test of the CBIR paper on a scaled schedule, against a
/// running server or a `karyon up` of its own.
///
/// Uploads pre-rendered distinct fields on the ``LoadSchedule`` (at most ``concurrency`` at a
/// time, retried like `karyon ingest`), samples `GET /api/v1/queue` every second, waits until the
/// study's jobs have all ended (polling the study's counts once a second) or ``timeout`` passes
/// after the last upload, then reads every image's results once and reports
/// (``LoadReport``).
public struct LoadTest: Sendable {
    public var schedule: LoadSchedule
    public var side: Int
    public var extractors: [String]
    public var concurrency: Int
    /// How long to wait for the jobs after the last upload.
    public var timeout: TimeInterval
    public var pixelSizeMicrons: Double

    public init(schedule: LoadSchedule, side: Int, extractors: [String], concurrency: Int = 4, timeout: TimeInterval = 1800,
                pixelSizeMicrons: Double = 0.5) throws {
        guard (1...64).contains(concurrency) else { throw ClientError(.badInput, "--concurrency must be 1 to 64, got \(concurrency)") }
        guard timeout > 0 else { throw ClientError(.badInput, "--timeout must be above 0") }
        self.schedule = schedule
        self.side = side
        self.extractors = extractors
        self.concurrency = concurrency
        self.timeout = timeout
        self.pixelSizeMicrons = pixelSizeMicrons
    }

    public enum Event: Sendable {
        case uploading(acknowledged: Int, failed: Int, total: Int)
        case waiting(ended: Int, expected: Int)
        case collecting(done: Int, total: Int)
    }

    // MARK: Setting up

    /// Signs in as the first-run administrator of a fresh `karyon up` and makes a personal API
    /// token (access tokens expire during long tests).
    public static func signIn(to server: LocalServer) async throws -> APIClient {
        struct Login: Encodable, Sendable { let email: String, password: String }
        struct Session: Decodable { let accessToken: String }
        struct NewToken: Encodable, Sendable { let name: String }
        struct Token: Decodable { let token: String }
        var client = try APIClient(baseURL: server.url, token: nil)
        let session = try await client.call(.POST, "/api/v1/auth/login",
                                            json: Login(email: "admin@karyon.local", password: try server.initialAdminPassword()), as: Session.self)
        client.token = session.accessToken
        client.token = try await client.call(.POST, "/api/v1/tokens", json: NewToken(name: "karyon loadtest"), as: Token.self).token
        return client
    }

    /// A project, a patient and an IHC study subscribed to the extractors (default parameters).
    public func createStudy(client: APIClient) async throws -> StudyInfo {
        struct NewProject: Encodable, Sendable { let name: String }
        struct NewPatient: Encodable, Sendable { let projectId: String, surname: String, name: String }
        struct Choice: Encodable, Sendable { let id: String }
        struct NewStudy: Encodable, Sendable {
            let patientId: String, title: String, kind: String, pixelSize: Double, extractors: [Choice]
        }
        let stamp = Date().formatted(Date.ISO8601FormatStyle())
        let project = try await client.call(.POST, "/api/v1/projects", json: NewProject(name: "loadtest \(stamp)"), as: Created.self)
        let patient = try await client.call(.POST, "/api/v1/patients", json: NewPatient(projectId: project.id, surname: "Loadtest", name: "Synthetic"),
                                            as: Created.self)
        return try await client.call(.POST, "/api/v1/studies",
                                     json: NewStudy(patientId: patient.id, title: "loadtest \(stamp)", kind: "ihc", pixelSize: pixelSizeMicrons,
                                                    extractors: extractors.map(Choice.init)), as: StudyInfo.self)
    }

    // MARK: Running

    /// Runs the schedule on `study` with `fields` (at least ``LoadSchedule/totalImages``).
    public func run(client: APIClient, study: StudyInfo, fields: [RenderedFields.Field], server: String, spawned: Bool,
                    renderSeconds: Double, onEvent: @escaping @Sendable (Event) -> Void) async throws -> LoadReport {
        precondition(fields.count >= schedule.totalImages, "render at least as many fields as the schedule uploads")
        let log = UploadLog()
        let peaks = QueuePeaks(extractors: Set(extractors))
        let sampler = Task {
            while !Task.isCancelled {
                if let rows = try? await client.call(.GET, "/api/v1/queue", as: [QueueRow].self, retry: RetryPolicy(attempts: 1)) {
                    await peaks.add(rows)
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        defer { sampler.cancel() }
        try await upload(fields, client: client, study: study, log: log, onEvent: onEvent)
        let lastUpload = Date()

        let expected = await log.acknowledged.count * study.extractors.count
        var timedOut = false
        while true {
            let now = try await client.call(.GET, "/api/v1/studies/\(study.id)", as: StudyInfo.self)
            let ended = now.jobs["succeeded", default: 0] + now.jobs["dead", default: 0]
            let open = now.jobs["queued", default: 0] + now.jobs["running", default: 0] + now.jobs["failed", default: 0]
            onEvent(.waiting(ended: ended, expected: expected))
            if open == 0 && ended >= expected { break }
            if Date().timeIntervalSince(lastUpload) >= timeout {
                timedOut = true
                break
            }
            try await Task.sleep(for: .seconds(1))
        }
        sampler.cancel()
        _ = await sampler.value

        let acknowledged = await log.acknowledged
        let results = try await collect(acknowledged.map(\.imageID), client: client, onEvent: onEvent)
        var report = Self.tally(acknowledged: acknowledged, results: results, expected: study.extractors)
        report.server = server
        report.spawned = spawned
        report.studyId = study.id
        report.schedule = .init(burst: schedule.burst, everySeconds: schedule.every, add: schedule.add,
                                durationSeconds: schedule.duration, timeScale: schedule.timeScale)
        report.size = side
        report.extractors = extractors
        report.renderSeconds = renderSeconds
        report.uploadFailed = await log.failed
        report.timedOut = timedOut
        let firstSent = await log.firstSent ?? lastUpload
        report.uploadSeconds = max(0, (acknowledged.map(\.at).max() ?? firstSent).timeIntervalSince(firstSent))
        let lastResult = results.values.flatMap { $0 ?? [] }.compactMap { APITime.parse($0.finishedAt) }.max() ?? firstSent
        report.elapsedSeconds = max(0, lastResult.timeIntervalSince(firstSent))
        if report.elapsedSeconds > 0 {
            report.throughputImagesPerSecond = Double(report.imagesFullyProcessed) / report.elapsedSeconds
            report.throughputJobsPerSecond = Double(report.succeeded + report.dead) / report.elapsedSeconds
        }
        (report.extractorPeaks, report.peakQueueDepth, report.queueSamples) = await peaks.summary(order: extractors)
        return report
    }

    /// Sends the batches at their (scaled) times, at most ``concurrency`` uploads at once.
    func upload(_ fields: [RenderedFields.Field], client: APIClient, study: StudyInfo, log: UploadLog,
                onEvent: @escaping @Sendable (Event) -> Void) async throws {
        let uploader = ImageUploader(client: client, studyID: study.id)
        let total = schedule.totalImages
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            var next = 0
            for batch in schedule.batches {
                try await clock.sleep(until: start.advanced(by: .seconds(batch.realAt)))
                for field in fields[next..<(next + batch.count)] {
                    if running >= concurrency {
                        try await group.next()
                        running -= 1
                    }
                    group.addTask {
                        await log.sending()
                        let outcome = try await uploader.upload(path: field.path, size: field.size, sha256: field.sha256,
                                                                name: "field-\(field.seed).png")
                        let counts = await log.record(outcome, at: Date())
                        onEvent(.uploading(acknowledged: counts.acknowledged, failed: counts.failed, total: total))
                    }
                    running += 1
                }
                next += batch.count
            }
            try await group.waitForAll()
        }
    }

    /// Every image's results, read once (four requests at a time); nil for an image the server
    /// does not know.
    func collect(_ imageIDs: [String], client: APIClient, onEvent: @escaping @Sendable (Event) -> Void) async throws -> [String: [ResultEntry]?] {
        var out: [String: [ResultEntry]?] = [:]
        try await withThrowingTaskGroup(of: (String, [ResultEntry]?).self) { group in
            var pending = imageIDs[...]
            func start(_ id: String) {
                group.addTask {
                    do {
                        return (id, try await client.call(.GET, "/api/v1/images/\(id)/results", as: [ResultEntry].self))
                    } catch let error as ClientError where error.code == .notFound {
                        return (id, nil)
                    }
                }
            }
            for _ in 0..<4 { if let id = pending.popFirst() { start(id) } }
            while let (id, entries) = try await group.next() {
                out[id] = .some(entries)
                onEvent(.collecting(done: out.count, total: imageIDs.count))
                if let id = pending.popFirst() { start(id) }
            }
        }
        return out
    }

    /// Counts end states, losses and duplicates per expected (image, extractor, version,
    /// parameter hash), and the latency of every image whose jobs all ended.
    static func tally(acknowledged: [UploadLog.Ack], results: [String: [ResultEntry]?], expected: [Subscription]) -> LoadReport {
        var report = LoadReport.empty
        report.images = acknowledged.count
        report.jobsExpected = acknowledged.count * expected.count
        var latencies: [Double] = []
        for ack in acknowledged {
            guard let entries = results[ack.imageID] ?? nil else {
                report.lost += expected.count
                continue
            }
            var byKey: [Subscription: [ResultEntry]] = [:]
            for entry in entries {
                byKey[Subscription(id: entry.extractor, version: entry.version, parameterHash: entry.parameterHash), default: []].append(entry)
            }
            report.duplicated += byKey.values.filter { $0.count > 1 }.count
            var allEnded = true, allSucceeded = true
            var last: Date?
            for key in expected {
                guard let entry = byKey[key]?.first, entry.status == "succeeded" || entry.status == "dead" else {
                    report.lost += 1
                    allEnded = false
                    allSucceeded = false
                    continue
                }
                if entry.status == "succeeded" { report.succeeded += 1 } else { report.dead += 1; allSucceeded = false }
                if let at = APITime.parse(entry.finishedAt) { last = max(last ?? at, at) }
            }
            if allSucceeded { report.imagesFullyProcessed += 1 }
            if allEnded, let last { latencies.append(max(0, last.timeIntervalSince(ack.at))) }
        }
        report.latencySeconds = .init(latencies)
        return report
    }
}

/// Acknowledged uploads (image id and when the answer came) and failures.
actor UploadLog {
    struct Ack: Sendable {
        var imageID: String
        var at: Date
    }

    private(set) var acknowledged: [Ack] = []
    private(set) var failed = 0
    private(set) var firstSent: Date?

    func sending() { if firstSent == nil { firstSent = Date() } }

    func record(_ outcome: ImageUploader.Outcome, at: Date) -> (acknowledged: Int, failed: Int) {
        switch outcome {
        case .uploaded(let id, _), .duplicate(.some(let id)): acknowledged.append(Ack(imageID: id, at: at))
        case .duplicate(.none), .rejected, .failed: failed += 1
        }
        return (acknowledged.count, failed)
    }
}

/// Peaks of the queue samples, per extractor of the test.
actor QueuePeaks {
    let extractors: Set<String>
    private var peaks: [String: LoadReport.ExtractorPeaks] = [:]
    private var peakDepth = 0
    private var samples = 0

    init(extractors: Set<String>) { self.extractors = extractors }

    func add(_ rows: [QueueRow]) {
        samples += 1
        var depth = 0
        for row in rows where extractors.contains(row.extractor) {
            let waiting = row.counts["queued", default: 0] + row.counts["failed", default: 0]
            depth += waiting
            var p = peaks[row.extractor] ?? .init(id: row.extractor, peakPoolSize: nil, peakBusy: nil, peakRunning: 0, peakDepth: 0)
            if let size = row.poolSize { p.peakPoolSize = max(p.peakPoolSize ?? 0, size) }
            if let busy = row.busy { p.peakBusy = max(p.peakBusy ?? 0, busy) }
            p.peakRunning = max(p.peakRunning, row.counts["running", default: 0])
            p.peakDepth = max(p.peakDepth, waiting)
            peaks[row.extractor] = p
        }
        peakDepth = max(peakDepth, depth)
    }

    func summary(order: [String]) -> ([LoadReport.ExtractorPeaks], Int, Int) {
        (order.map { peaks[$0] ?? .init(id: $0, peakPoolSize: nil, peakBusy: nil, peakRunning: 0, peakDepth: 0) }, peakDepth, samples)
    }
}

extension LoadReport {
    /// All counts zero, to be filled in.
    static var empty: LoadReport {
        LoadReport(server: "", spawned: false, studyId: "", schedule: .init(burst: 0, everySeconds: 0, add: 0, durationSeconds: 0, timeScale: 1),
                   size: 0, extractors: [], renderSeconds: 0, images: 0, uploadFailed: 0, jobsExpected: 0, succeeded: 0, dead: 0, lost: 0,
                   duplicated: 0, imagesFullyProcessed: 0, uploadSeconds: 0, elapsedSeconds: 0, throughputImagesPerSecond: 0,
                   throughputJobsPerSecond: 0, latencySeconds: .init([]), extractorPeaks: [], peakQueueDepth: 0, queueSamples: 0,
                   timedOut: false, physicalLimit: nil)
    }
}
