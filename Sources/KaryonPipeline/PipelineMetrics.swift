import CoreMetrics
import Foundation

/// What operators watch, through swift-metrics with an injected factory (the server passes
/// swift-prometheus's, exported at `/metrics`):
///
/// - `karyon_queue_jobs{extractor, state}` — jobs per state (refreshed from the database);
/// - `karyon_queue_oldest_waiting_seconds{extractor}` — age of the oldest queued or retrying job;
/// - `karyon_jobs_finished_total{extractor, outcome}` — attempts that ended: succeeded, retry, dead;
/// - `karyon_job_duration_seconds{extractor}` — run time of successful attempts (histogram);
/// - `karyon_worker_pool_size{extractor}` — concurrent job slots of the pools in this process.
public struct PipelineMetrics: Sendable {
    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Records one finished attempt.
    public func record(_ event: WorkerPool.JobEvent) {
        switch event {
        case .succeeded(let job, let duration):
            Counter(label: "karyon_jobs_finished_total", dimensions: [("extractor", job.extractorID), ("outcome", "succeeded")], factory: factory)
                .increment()
            Timer(label: "karyon_job_duration_seconds", dimensions: [("extractor", job.extractorID)], factory: factory)
                .recordNanoseconds(Int64(duration * 1e9))
        case .failed(let job, let state, _):
            Counter(label: "karyon_jobs_finished_total",
                    dimensions: [("extractor", job.extractorID), ("outcome", state == .dead ? "dead" : "retry")], factory: factory)
                .increment()
        }
    }

    /// Sets the queue gauges from a depth reading; states with no jobs read 0.
    public func update(_ depth: [JobQueue.Depth]) {
        for row in depth {
            for state in ["queued", "running", "succeeded", "failed", "dead"] {
                Gauge(label: "karyon_queue_jobs", dimensions: [("extractor", row.extractorID), ("state", state)], factory: factory)
                    .record(Double(row.counts[state] ?? 0))
            }
            Gauge(label: "karyon_queue_oldest_waiting_seconds", dimensions: [("extractor", row.extractorID)], factory: factory)
                .record(row.oldestQueuedAge ?? 0)
        }
    }

    public func poolSize(_ extractor: String, _ size: Int) {
        Gauge(label: "karyon_worker_pool_size", dimensions: [("extractor", extractor)], factory: factory).record(Double(size))
    }
}
