import Fluent
import KaryonPipeline
import Prometheus
import Vapor

/// `GET /metrics`: Prometheus text format (counts and timings only, no health data), for a
/// scraper on the same host or network; the queue gauges are refreshed from the database on
/// every scrape.
struct MetricsController: Sendable {
    let context: AppContext

    func register(_ routes: any RoutesBuilder) {
        context.catalog.register(Operation(method: .GET, path: "/metrics", summary: "Prometheus metrics: queue depth and age, job outcomes and durations, pool sizes",
                                           tag: "operations", authenticated: false, response: .text, responseMediaType: "text/plain"),
                                 on: routes, use: metrics)
    }

    @Sendable func metrics(_ req: Request) async throws -> Response {
        let depth = try await JobQueue(database: req.db).depth()
        let export = context.metrics
        export.pipeline.update(depth)
        export.pipeline.update(pools: try await WorkerRegistry(database: req.db).summary(),
                               extractors: Set(depth.map(\.extractorID)).union(context.registry.descriptors.map(\.id)))
        try await export.finished.refresh()
        var headers = HTTPHeaders()
        headers.add(name: .contentType, value: "text/plain; version=0.0.4; charset=utf-8")
        return Response(status: .ok, headers: headers, body: .init(data: Data(context.metrics.registry.emitToBuffer())))
    }
}

/// The process's metrics registry and the pipeline's view of it.
struct MetricsExport: Sendable {
    let registry: PrometheusCollectorRegistry
    let pipeline: PipelineMetrics
    /// Counts jobs that ended (in any process) since this server started.
    let finished: FinishedJobsObserver

    init(database: any Database) {
        registry = PrometheusCollectorRegistry()
        pipeline = PipelineMetrics(factory: PrometheusMetricsFactory(registry: registry))
        finished = FinishedJobsObserver(queue: JobQueue(database: database), metrics: pipeline)
    }
}
