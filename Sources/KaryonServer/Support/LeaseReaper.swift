import Foundation
import KaryonPipeline
import Logging
import Vapor

/// Periodically gives expired leases back to the queue (``JobQueue/reap(now:)``), so a job
/// claimed by a worker that died — in this process or outside it, e.g. an external worker whose
/// token was revoked — is retried within lease + interval even when no in-process pool runs
/// (`karyon serve`).
struct LeaseReaper: LifecycleHandler {
    let queue: JobQueue
    let interval: TimeInterval
    let logger: Logger
    private let task = TaskBox()

    init(queue: JobQueue, interval: TimeInterval, logger: Logger) {
        self.queue = queue
        self.interval = interval
        self.logger = logger
    }

    func didBootAsync(_ application: Application) async throws {
        let (queue, interval, logger) = (self.queue, self.interval, self.logger)
        task.set(Task {
            while !Task.isCancelled {
                do {
                    let reaped = try await queue.reap()
                    if reaped > 0 { logger.info("expired leases returned to the queue", metadata: ["jobs.count": "\(reaped)"]) }
                } catch {
                    logger.error("reaper failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(interval))
            }
        })
    }

    func shutdownAsync(_ application: Application) async {
        await task.cancelAndWait()
    }
}
