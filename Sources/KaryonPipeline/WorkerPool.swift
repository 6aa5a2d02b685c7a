import FluentKit
import Foundation
import KaryonStore
import Logging
import Synchronization

/// The workers of one extractor in this process: job slots that claim and run its jobs, each
/// lease kept alive by heartbeats while the job runs; a scaler that sizes the pool between its
/// minimum and maximum from the backlog and recent run times (``Autoscaler``) and reports the
/// pool in ``WorkerRegistry`` (on change, else every 5 s); and, in one pool per process, a
/// reaper that returns expired leases of every extractor.
///
/// Stopping (SIGTERM) stops claiming and lets running jobs finish within a grace period; jobs
/// still running then are released to the queue without counting the attempt. A process killed
/// outright leaves its leases to expire: the reaper of any worker returns them and the attempt
/// counts.
public actor WorkerPool {
    public struct Settings: Sendable {
        public var extractor: String
        public var scaling: Scaling
        public var workerID: String
        /// Longest wait between claims when the queue is empty (a ``Doorbell`` ring ends it early).
        public var idlePoll: TimeInterval
        /// Whether this pool runs the process's reaper (one pool per process does).
        public var reaps: Bool
        public var reapInterval: TimeInterval

        public init(extractor: String, scaling: Scaling = .fixed(1), workerID: String = WorkerPool.processWorkerID,
                    idlePoll: TimeInterval = 0.5, reaps: Bool = true, reapInterval: TimeInterval = 5) {
            self.extractor = extractor
            self.scaling = scaling
            self.workerID = workerID
            self.idlePoll = idlePoll
            self.reaps = reaps
            self.reapInterval = reapInterval
        }
    }

    /// `host:pid`, the default worker identity of this process.
    public static let processWorkerID = "\(ProcessInfo.processInfo.hostName):\(getpid())"

    let queue: JobQueue
    let runner: JobRunner
    let registry: WorkerRegistry
    public nonisolated let settings: Settings
    let logger: Logger
    let events: (@Sendable (JobEvent) async -> Void)?
    /// Rung when jobs of this extractor may have become runnable, and on scale-down and stop.
    public nonisolated let doorbell = Doorbell()

    private var target = 0
    /// `target`, or 0 once stopping, readable off the actor: a job finishing on its own thread
    /// claims the slot's next job only while the slot is still wanted.
    private nonisolated let wanted = Atomic<Int>(0)
    private var slots: [Int: Task<Void, Never>] = [:]
    private var running: [Int: ClaimedJob] = [:]
    private var background: [Task<Void, Never>] = []
    private var stopping = false
    private var meanRun: TimeInterval?
    private var lastSaturated = Date()
    private var peak = 0
    private let startedAt = Date()
    /// What the registry last heard, and when: a pool reports on change, else every 5 s.
    private var reported: (slots: Int, busy: Int, at: Date)?

    /// What happened to a job, for notifications.
    public enum JobEvent: Sendable {
        case succeeded(ClaimedJob, duration: TimeInterval)
        case failed(ClaimedJob, state: Job.State, message: String)
        /// The pool's reaper dead-lettered a job whose lease expired on its last attempt.
        case expired(JobQueue.DeadLetter)
    }

    public init(queue: JobQueue, runner: JobRunner, settings: Settings, logger: Logger,
                events: (@Sendable (JobEvent) async -> Void)? = nil) {
        self.queue = queue
        self.runner = runner
        self.registry = WorkerRegistry(database: queue.database)
        self.settings = settings
        self.logger = logger
        self.events = events
    }

    /// Current slots, slots running a job, and the most slots the pool has had.
    public var size: (slots: Int, busy: Int, peak: Int) { (target, running.count, peak) }

    public func start() async {
        guard background.isEmpty, !stopping else { return }
        resize(to: settings.scaling.min)
        background.append(Task { await self.scaler() })
        if settings.reaps { background.append(Task { await self.reaper() }) }
    }

    /// Stops claiming, waits up to `grace` seconds for running jobs, then releases the jobs still
    /// running (their attempts do not count) and removes the pool from the registry.
    public func stop(grace: TimeInterval = 30) async {
        guard !stopping else { return }
        stopping = true
        target = 0
        wanted.store(0, ordering: .relaxed)
        for task in background { task.cancel() }
        doorbell.ring()
        let deadline = Date().addingTimeInterval(grace)
        while !slots.isEmpty, Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for (_, job) in running {
            let released = (try? await queue.release(job)) ?? false
            logger.warning("job released at shutdown", metadata: ["job.id": "\(job.id)", "released": "\(released)"])
        }
        for task in background { await task.value }
        background.removeAll()
        try? await registry.remove(id: rowID)
    }

    private var rowID: String { "\(settings.workerID)|\(settings.extractor)" }

    /// Starts or retires slots to reach `n` (retired slots finish their current job first).
    private func resize(to n: Int) {
        let n = min(max(n, stopping ? 0 : settings.scaling.min), settings.scaling.max)
        if n != target {
            logger.info("pool resized", metadata: ["extractor.id": "\(settings.extractor)", "from": "\(target)", "to": "\(n)"])
        }
        target = n
        wanted.store(stopping ? 0 : n, ordering: .relaxed)
        peak = max(peak, n)
        for slot in 0..<n where slots[slot] == nil {
            slots[slot] = Task { await self.loop(slot: slot) }
        }
        if slots.count > n { doorbell.ring() }
    }

    private func loop(slot: Int) async {
        let worker = "\(settings.workerID)/\(settings.extractor)/\(slot)"
        // The job claimed with the previous one's completion, if any.
        var next: ClaimedJob?
        // On the embedded database: the slot's own connection for each job's reads and completion.
        var connection: DirectSQLite?
        if queue.directSQLitePath != nil {
            do {
                connection = try queue.openDirectConnection()
            } catch {
                logger.error("direct database connection failed; jobs go through the driver", metadata: ["error": "\(error)"])
            }
        }
        while !stopping, slot < target {
            do {
                let claimed: ClaimedJob?
                if let held = next {
                    claimed = held
                    next = nil
                } else {
                    claimed = try await queue.claim(extractors: [settings.extractor], worker: worker)
                }
                guard let job = claimed else {
                    await doorbell.wait(upTo: settings.idlePoll)
                    continue
                }
                if stopping {
                    _ = try? await queue.release(job)
                    break
                }
                running[slot] = job
                if running.count == target { lastSaturated = Date() }
                let ended = await execute(job, slot: slot, worker: worker, connection: connection)
                next = ended.next
                running[slot] = nil
                if ended.connectionFailed {
                    // The direct connection failed: the next job gets a fresh one (or, if none
                    // opens, the driver).
                    connection?.close()
                    do {
                        connection = try queue.openDirectConnection()
                    } catch {
                        connection = nil
                        logger.error("direct database connection failed; jobs go through the driver", metadata: ["error": "\(error)"])
                    }
                }
            } catch {
                logger.error("claim failed", metadata: ["error": "\(error)"])
                await doorbell.wait(upTo: settings.idlePoll)
            }
        }
        // Retired or stopping with a job claimed for it: back to the queue, the attempt uncounted.
        if let next { _ = try? await queue.release(next) }
        connection?.close()
        slots[slot] = nil
    }

    /// Runs `job` and records how it ended. While the slot is still wanted, the completion also
    /// claims the slot's next job (one commit for both), which is returned; `connectionFailed`
    /// when the direct connection threw.
    private func execute(_ job: ClaimedJob, slot: Int, worker: String, connection: DirectSQLite?) async
        -> (next: ClaimedJob?, connectionFailed: Bool) {
        let started = Date()
        let meta: Logger.Metadata = ["job.id": "\(job.id)", "extractor.id": "\(job.extractorID)", "job.attempt": "\(job.attempt)"]
        let queue = self.queue
        let heartbeat = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(0.2, queue.policy.lease / 3)))
                if Task.isCancelled { break }
                _ = try? await queue.heartbeat(job)
            }
        }
        defer { heartbeat.cancel() }
        do {
            let output: JobQueue.Output, outcome: JobQueue.Completion, next: ClaimedJob?
            if let connection {
                // The whole job on one thread of its own: no hand-off between its statements.
                let (runner, queue, extractor) = (self.runner, self.queue, settings.extractor)
                (output, outcome, next) = try await JobRunner.offload {
                    let output = try runner.run(job, on: connection)
                    let claiming = slot < self.wanted.load(ordering: .relaxed) ? [extractor] : []
                    let ended = try queue.complete(job, output: output, thenClaim: claiming, worker: worker, on: connection)
                    return (output, ended.completion, ended.next)
                }
            } else {
                output = try await runner.run(job)
                let wanted = !stopping && slot < target
                (outcome, next) = try await queue.complete(job, output: output, thenClaim: wanted ? [settings.extractor] : [], worker: worker)
            }
            if outcome != .stored { await runner.discard(output) }
            let duration = Date().timeIntervalSince(started)
            meanRun = meanRun.map { 0.8 * $0 + 0.2 * duration } ?? duration
            if outcome == .fenced {
                logger.warning("job result discarded: the lease was lost to another worker", metadata: meta.merging(["job.outcome": "fenced"]) { $1 })
            } else {
                logger.info("job finished", metadata: meta.merging(["job.outcome": "\(outcome)", "job.seconds": "\(duration)"]) { $1 })
                await events?(.succeeded(job, duration: duration))
            }
            return (next, false)
        } catch {
            // When completing threw, the commit may or may not have happened: the artefact blob
            // stays, and the start-up orphan collection removes it if no result names it.
            let failure = error as? JobRunner.Failure
            let message = failure?.message ?? String(describing: error)
            let state = try? await queue.fail(job, error: message, retryable: failure?.retryable ?? true)
            logger.warning("job failed", metadata: meta.merging(["error": "\(message)", "job.state": "\(state.map(\.rawValue) ?? "fenced")"]) { $1 })
            if state == .failed {
                // Ring when the retry is due at the latest (the backoff's jitter only shortens
                // it), so a pool that polls rarely does not leave it waiting for the next poll.
                let due = queue.policy.delay(afterAttempt: job.attempt, jitter: 1)
                let doorbell = self.doorbell
                Task {
                    try? await Task.sleep(for: .seconds(due))
                    doorbell.ring()
                }
            }
            if let state { await events?(.failed(job, state: state, message: message)) }
            return (nil, error is DirectSQLiteError)
        }
    }

    /// Reads the backlog, resizes, and reports the pool, every `scaling.interval`.
    private func scaler() async {
        while !Task.isCancelled, !stopping {
            await tick()
            try? await Task.sleep(for: .seconds(settings.scaling.interval))
        }
    }

    /// One scaling step (also called by tests).
    func tick(now: Date = Date()) async {
        do {
            let ready = try await queue.ready(extractors: [settings.extractor], now: now)
            if ready > 0 || running.count >= target { lastSaturated = now }
            let reading = Autoscaler.Reading(slots: target, busy: running.count, ready: ready, meanRun: meanRun,
                                             idleFor: now.timeIntervalSince(lastSaturated))
            let next = Autoscaler.target(reading, scaling: settings.scaling)
            if next < target { lastSaturated = now }  // one slot per cooldown
            if !stopping { resize(to: next) }
            if let last = reported, last.slots == target, last.busy == running.count, now.timeIntervalSince(last.at) < 5 { return }
            reported = (target, running.count, now)
            try await registry.report(.init(workerID: settings.workerID, extractorID: settings.extractor, host: ProcessInfo.processInfo.hostName,
                                            pid: Int(getpid()), slots: target, busy: running.count, minSlots: settings.scaling.min,
                                            maxSlots: settings.scaling.max, startedAt: startedAt, seenAt: now))
        } catch {
            logger.error("scaling tick failed", metadata: ["error": "\(error)"])
        }
    }

    private func reaper() async {
        while !Task.isCancelled, !stopping {
            do {
                let reaped = try await queue.reapReporting()
                for letter in reaped.dead { await events?(.expired(letter)) }
            } catch {
                logger.error("reaper failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(settings.reapInterval))
        }
    }
}
