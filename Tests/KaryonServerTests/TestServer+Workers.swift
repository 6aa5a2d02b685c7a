import Fluent
import Foundation
import KaryonPipeline
import KaryonStore
import Testing
import Vapor
@testable import KaryonServer

/// Fixtures for the external-worker protocol.
extension TestServer {
    /// The parameters of the test extractor: one bounded integer, one choice.
    static var externalParameters: [[String: Any]] { [
        ["key": "distance", "type": "integer", "default": 1, "minimum": 1, "maximum": 8, "unit": "px", "help": "pair distance"],
        ["key": "mode", "type": "choice", "default": "fast", "choices": ["fast", "exact"], "help": "speed or accuracy"],
    ] }

    /// Registers an external extractor for `token`'s user and returns the reply.
    @discardableResult
    func registerExtractor(_ token: String, id: String = "ext-texture", version: String = "1.0.0",
                           columns: [String] = ["contrast", "energy"], parameters: [[String: Any]] = externalParameters) async throws -> Reply {
        try await send(.POST, "/api/v1/extractors", token: token,
                       json: ["id": id, "version": version, "summary": "test texture", "parameters": parameters, "columns": columns])
    }

    /// One claim; `job` is the assignment on 200, nil on 204.
    func claim(_ token: String, _ extractors: [String], wait: Int = 0) async throws -> (reply: Reply, job: [String: Any]?) {
        let reply = try await send(.POST, "/api/v1/worker/claim", token: token, json: ["extractors": extractors, "wait_seconds": wait])
        return (reply, reply.object["job"] as? [String: Any])
    }

    /// Reports features for a claimed job.
    func complete(_ token: String, _ job: [String: Any], features: Any, attemptToken: String? = nil) async throws -> Reply {
        try await send(.POST, "/api/v1/worker/jobs/\(job["id"] as? String ?? "")/complete", token: token,
                       json: ["attempt_token": attemptToken ?? job["attempt_token"] as? String ?? "", "features": features])
    }

    /// The queue with the server's configured lease.
    var queue: JobQueue { JobQueue(database: app.db, policy: parts?.queuePolicy ?? QueuePolicy()) }

    func job(_ id: Any?) async throws -> Job? {
        guard let text = id as? String, let uuid = UUID(uuidString: text) else { return nil }
        return try await Job.find(uuid, on: app.db)
    }

    /// Makes a job that is waiting out its retry backoff claimable now.
    func makeDue(_ id: Any?) async throws {
        guard let job = try await job(id) else { return }
        job.runAfter = Date().addingTimeInterval(-1)
        try await job.save(on: app.db)
    }

    /// Runs in-process workers (one slot per extractor) until the study reports `success` or
    /// `tries` × 100 ms pass, stops them, and returns the last status seen.
    func runWorkersUntilDone(study: String, token: String, tries: Int = 300) async throws -> String {
        let workers = InProcessWorkers(app: app, parts: try #require(parts), registry: .standard, scaling: .fixed(1))
        try await workers.didBootAsync(app)
        var status = ""
        for _ in 0..<tries {
            status = try await send(.GET, "/api/v1/studies/\(study)", token: token).object["status"] as? String ?? ""
            if status == "success" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await workers.shutdownAsync(app)
        return status
    }
}

extension JobQueue {
    /// Claims and completes `extractor`'s jobs through the driver as one busy slot does (each
    /// completion claims the next) until none is left; the ids it ran, in order.
    func drain(_ extractor: String, worker: String, output: Output) async throws -> [UUID] {
        var ran: [UUID] = []
        var job = try await claim(extractors: [extractor], worker: worker)
        while let current = job {
            ran.append(current.id)
            job = try await complete(current, output: output, thenClaim: [extractor], worker: worker).next
        }
        return ran
    }
}
