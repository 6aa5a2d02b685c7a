import Foundation
import KaryonPipeline
import Logging
import Vapor

/// Periodically gives expired leases back to the queue (``JobQueue/reap(now:)``), so a job
/// claimed by a worker that died — in this process or outside it, e.g. an external worker whose
/// token was revoked — is retried within lease + interval even when no in-process pool runs
/// (`karyon serve`). The extractors of the jobs it returns are signalled (``JobSignal``), so the
/// pools that wait for them — in this process, or `karyon up`'s worker processes through their wake
/// pipes — claim them at once rather than at their next poll (on PostgreSQL the jobs' trigger
/// notifies the workers anyway). The jobs it dead-letters are announced like any other dead
/// letter (``StudyNotifier``).
struct LeaseReaper: LifecycleHandler {
    let queue: JobQueue
    let interval: TimeInterval
    let signal: JobSignal
    let notifier: StudyNotifier
    let logger: Logger
    private let task = TaskBox()

    init(queue: JobQueue, interval: TimeInterval, signal: JobSignal, logger: Logger) {
        self.queue = queue
        self.interval = interval
        self.signal = signal
        self.notifier = StudyNotifier(database: queue.database)
        self.logger = logger
    }

    func didBootAsync(_ application: Application) async throws {
        let (queue, interval, signal, notifier, logger) = (self.queue, self.interval, self.signal, self.notifier, self.logger)
        task.set(Task {
            while !Task.isCancelled {
                do {
                    let reaped = try await queue.reapReporting()
                    let count = reaped.dead.count + reaped.retried.count
                    if count > 0 { logger.info("expired leases returned to the queue", metadata: ["jobs.count": "\(count)"]) }
                    if !reaped.retried.isEmpty { await signal.notify(reaped.retried) }
                    for letter in reaped.dead { await notifier.handle(.expired(letter)) }
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
