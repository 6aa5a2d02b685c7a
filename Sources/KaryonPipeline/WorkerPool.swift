import FluentKit
import Foundation
import KaryonStore
import Logging

/// Workers that claim and run jobs of some extractors until stopped: `concurrency` claim loops,
/// each holding a lease kept alive by heartbeats while its job runs, and one reaper that returns
/// expired leases. Stopping lets running jobs finish (or, past the grace period, abandons them to
/// the reaper of the next run, which counts the attempt).
public actor WorkerPool {
    public struct Settings: Sendable {
        public var extractors: [String]
        public var concurrency: Int
        public var workerID: String
        /// Pause between claims when the queue is empty.
        public var idlePoll: TimeInterval
        public var reapInterval: TimeInterval

        public init(extractors: [String], concurrency: Int = 1, workerID: String = "\(ProcessInfo.processInfo.hostName):\(getpid())",
                    idlePoll: TimeInterval = 0.5, reapInterval: TimeInterval = 5) {
            self.extractors = extractors
            self.concurrency = max(1, concurrency)
            self.workerID = workerID
            self.idlePoll = idlePoll
            self.reapInterval = reapInterval
        }
    }

    let queue: JobQueue
    let runner: JobRunner
    let settings: Settings
    let logger: Logger
    let events: (@Sendable (JobEvent) async -> Void)?
    private var tasks: [Task<Void, Never>] = []
    private var stopping = false

    /// What happened to a job, for notifications and metrics.
    public enum JobEvent: Sendable {
        case succeeded(ClaimedJob, duration: TimeInterval)
        case failed(ClaimedJob, state: Job.State, message: String)
    }

    public init(queue: JobQueue, runner: JobRunner, settings: Settings, logger: Logger,
                events: (@Sendable (JobEvent) async -> Void)? = nil) {
        self.queue = queue
        self.runner = runner
        self.settings = settings
        self.logger = logger
        self.events = events
    }

    public func start() {
        guard tasks.isEmpty else { return }
        for slot in 0..<settings.concurrency {
            tasks.append(Task { await self.loop(slot: slot) })
        }
        tasks.append(Task { await self.reaper() })
    }

    /// Stops claiming and waits for running jobs to end.
    public func stop() async {
        stopping = true
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        tasks.removeAll()
    }

    private func loop(slot: Int) async {
        let worker = "\(settings.workerID)/\(slot)"
        while !Task.isCancelled, !stopping {
            do {
                guard let job = try await queue.claim(extractors: settings.extractors, worker: worker) else {
                    try? await Task.sleep(for: .seconds(settings.idlePoll))
                    continue
                }
                await execute(job)
            } catch {
                logger.error("claim failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(settings.idlePoll))
            }
        }
    }

    private func execute(_ job: ClaimedJob) async {
        let started = Date()
        let meta: Logger.Metadata = ["job.id": "\(job.id)", "extractor.id": "\(job.extractorID)", "job.attempt": "\(job.attempt)"]
        let queue = self.queue
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(1, queue.policy.lease / 3)))
                if Task.isCancelled { break }
                _ = try? await queue.heartbeat(job)
            }
        }
        defer { heartbeat.cancel() }
        do {
            let output = try await runner.run(job)
            let outcome = try await queue.complete(job, output: output)
            logger.info("job finished", metadata: meta.merging(["job.outcome": "\(outcome)"]) { $1 })
            if outcome != .fenced { await events?(.succeeded(job, duration: Date().timeIntervalSince(started))) }
        } catch {
            let failure = error as? JobRunner.Failure
            let message = failure?.message ?? String(describing: error)
            let state = try? await queue.fail(job, error: message, retryable: failure?.retryable ?? true)
            logger.warning("job failed", metadata: meta.merging(["error": "\(message)", "job.state": "\(state.map(\.rawValue) ?? "fenced")"]) { $1 })
            if let state { await events?(.failed(job, state: state, message: message)) }
        }
    }

    private func reaper() async {
        while !Task.isCancelled, !stopping {
            do { try await queue.reap() } catch { logger.error("reaper failed", metadata: ["error": "\(error)"]) }
            try? await Task.sleep(for: .seconds(settings.reapInterval))
        }
    }
}
