import CoreMetrics
import Foundation
import KaryonStore

/// What operators watch, through swift-metrics with an injected factory (the server passes
/// swift-prometheus's, exported at `/metrics`). Everything is read from the database, so one
/// scrape of the server covers workers in every process and on every machine:
///
/// - `karyon_queue_jobs{extractor, state}` — jobs per state;
/// - `karyon_queue_oldest_waiting_seconds{extractor}` — age of the oldest queued or retrying job;
/// - `karyon_jobs_finished_total{extractor, outcome}` — jobs that ended (succeeded, dead) since
///   the server started;
/// - `karyon_job_duration_seconds{extractor}` — run time of the successful attempt (histogram);
/// - `karyon_worker_pool_size{extractor}`, `karyon_worker_pool_busy{extractor}`,
///   `karyon_worker_processes{extractor}` — job slots, busy slots and processes of live pools.
public struct PipelineMetrics: Sendable {
    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Records one job that reached an end state.
    public func observe(_ job: JobQueue.Finished) {
        Counter(label: "karyon_jobs_finished_total", dimensions: [("extractor", job.extractorID), ("outcome", job.state.rawValue)], factory: factory)
            .increment()
        if job.state == .succeeded, let duration = job.duration {
            Timer(label: "karyon_job_duration_seconds", dimensions: [("extractor", job.extractorID)], factory: factory)
                .recordNanoseconds(Int64(duration * 1e9))
        }
    }

    /// Sets the queue gauges from a depth reading; states with no jobs read 0.
    public func update(_ depth: [JobQueue.Depth]) {
        for row in depth {
            for state in Job.State.allCases.map(\.rawValue) {
                Gauge(label: "karyon_queue_jobs", dimensions: [("extractor", row.extractorID), ("state", state)], factory: factory)
                    .record(Double(row.counts[state] ?? 0))
            }
            Gauge(label: "karyon_queue_oldest_waiting_seconds", dimensions: [("extractor", row.extractorID)], factory: factory)
                .record(row.oldestQueuedAge ?? 0)
        }
    }

    /// Sets the pool gauges of `extractors` from the live pools (0 where none runs).
    public func update(pools: [String: WorkerRegistry.Summary], extractors: Set<String>) {
        for extractor in extractors.union(pools.keys) {
            let s = pools[extractor] ?? .init()
            Gauge(label: "karyon_worker_pool_size", dimensions: [("extractor", extractor)], factory: factory).record(Double(s.slots))
            Gauge(label: "karyon_worker_pool_busy", dimensions: [("extractor", extractor)], factory: factory).record(Double(s.busy))
            Gauge(label: "karyon_worker_processes", dimensions: [("extractor", extractor)], factory: factory).record(Double(s.processes))
        }
    }
}

/// Feeds jobs that ended into ``PipelineMetrics`` once each. Reads jobs finished after a
/// watermark minus an overlap (a transaction may commit after a later one, and workers' clocks
/// differ a little), skipping those already counted.
public actor FinishedJobsObserver {
    let queue: JobQueue
    let metrics: PipelineMetrics
    let overlap: TimeInterval
    private var watermark: Date
    private var counted: [UUID: Date] = [:]

    public init(queue: JobQueue, metrics: PipelineMetrics, since: Date = Date(), overlap: TimeInterval = 60) {
        self.queue = queue
        self.metrics = metrics
        self.watermark = since
        self.overlap = overlap
    }

    public func refresh() async throws {
        var cursor = watermark.addingTimeInterval(-overlap)
        let limit = 5_000
        while true {
            let batch = try await queue.finished(since: cursor, limit: limit)
            for job in batch where counted[job.id] == nil {
                counted[job.id] = job.finishedAt
                metrics.observe(job)
            }
            guard let last = batch.last else { break }
            watermark = max(watermark, last.finishedAt)
            guard batch.count == limit, last.finishedAt > cursor else { break }
            cursor = last.finishedAt
        }
        let horizon = watermark.addingTimeInterval(-overlap)
        counted = counted.filter { $0.value >= horizon }
    }
}
