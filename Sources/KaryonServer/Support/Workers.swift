import Fluent
import Foundation
import KaryonAnalysis
import KaryonPipeline
import KaryonStore
import Vapor

/// In-process analysis workers for `karyon up`: one pool per registered extractor, started after
/// boot and stopped (running jobs finish) at shutdown. Job outcomes become dashboard
/// notifications: a study whose jobs have all ended, and every dead-lettered job.
struct InProcessWorkers: LifecycleHandler {
    let pools: [WorkerPool]

    init(app: Application, parts: ServerParts, registry: ExtractorRegistry, concurrency: Int) {
        let queue = JobQueue(database: app.db, policy: parts.queuePolicy)
        let runner = JobRunner(database: app.db, blobs: parts.blobs, registry: registry)
        let outcomes = JobOutcomes(metrics: parts.metrics.pipeline, database: app.db)
        pools = registry.descriptors.map { d in
            outcomes.metrics.poolSize(d.id, concurrency)
            return WorkerPool(queue: queue, runner: runner, settings: .init(extractors: [d.id], concurrency: concurrency),
                              logger: app.logger, events: outcomes.record)
        }
    }

    func didBootAsync(_ application: Application) async throws {
        for pool in pools { await pool.start() }
    }

    func shutdownAsync(_ application: Application) async {
        for pool in pools { await pool.stop() }
    }
}

/// What follows a finished attempt, wherever it ran (an in-process pool or an external worker
/// over HTTP): the outcome metrics and the study creator's notifications.
struct JobOutcomes: Sendable {
    let metrics: PipelineMetrics
    let notifier: StudyNotifier

    init(metrics: PipelineMetrics, database: any Database) {
        self.metrics = metrics
        self.notifier = StudyNotifier(database: database)
    }

    @Sendable func record(_ event: WorkerPool.JobEvent) async {
        metrics.record(event)
        await notifier.handle(event)
    }
}

/// Turns job outcomes into notifications for the study's creator.
struct StudyNotifier: Sendable {
    let database: any Database

    func handle(_ event: WorkerPool.JobEvent) async {
        do {
            switch event {
            case .succeeded(let job, _):
                let open = try await Job.query(on: database).filter(\.$studyID == job.studyID)
                    .filter(\.$state ~~ [Job.State.queued.rawValue, Job.State.running.rawValue, Job.State.failed.rawValue]).count()
                guard open == 0, let study = try await Study.find(job.studyID, on: database) else { return }
                let dead = try await Job.query(on: database).filter(\.$studyID == job.studyID).filter(\.$state == Job.State.dead.rawValue).count()
                let message = dead == 0 ? "Analysis of study “\(study.title)” finished." :
                    "Analysis of study “\(study.title)” finished; \(dead) job(s) failed."
                try await UserNotification(userID: study.createdBy, kind: dead == 0 ? "analysis.finished" : "analysis.partial",
                                           message: message, resourceType: "study", resourceID: job.studyID).create(on: database)
            case .failed(let job, let state, let message):
                guard state == .dead, let study = try await Study.find(job.studyID, on: database) else { return }
                try await UserNotification(userID: study.createdBy, kind: "job.failed",
                                           message: "\(job.extractorID) failed on an image of “\(study.title)” after \(job.attempt) attempt(s): \(message)",
                                           resourceType: "image", resourceID: job.imageID).create(on: database)
            }
        } catch {
            // A lost notification must not fail the job; the queue already holds the truth.
        }
    }
}
