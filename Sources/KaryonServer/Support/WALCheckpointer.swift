import Foundation
import Logging
import SQLiteKit
import Vapor

/// Checkpoints the SQLite write-ahead log from a connection of its own, every `interval`.
///
/// The server's pooled connections run with `wal_autocheckpoint = 0` (``DatabaseSetup``). With
/// SQLite's default, the commit that takes the log past 1,000 pages also copies the log into the
/// database file and fsyncs it before it returns — and every request waiting on that commit waits
/// too (an audited read waits for its audit row), while the pooled connection serves nobody else.
/// On the API bench that stall set the tail: p99 7–14 ms with automatic checkpoints, 5.4–6.3 ms
/// with this one. A `PASSIVE` checkpoint takes no lock that writers or readers wait for; it copies
/// what no open transaction still needs, and the log restarts from its beginning once all of it
/// is copied. Worker processes keep SQLite's automatic checkpoints on their own connections.
///
/// ## References
/// - SQLite, "Write-Ahead Logging" §Checkpointing and `PRAGMA wal_checkpoint`, https://sqlite.org/wal.html
struct WALCheckpointer: LifecycleHandler {
    let path: String
    let interval: TimeInterval
    let busyTimeout: TimeInterval
    let logger: Logger
    private let task = TaskBox()

    init(path: String, interval: TimeInterval = 1, busyTimeout: TimeInterval, logger: Logger) {
        self.path = path
        self.interval = interval
        self.busyTimeout = busyTimeout
        self.logger = logger
    }

    func didBootAsync(_ application: Application) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), threadPool: application.threadPool,
                                                         logger: logger, on: application.eventLoopGroup.any())
        do {
            _ = try await connection.query("PRAGMA busy_timeout = \(Int(busyTimeout * 1000))")
        } catch {
            try? await connection.close().get()
            throw error
        }
        let (interval, logger) = (self.interval, self.logger)
        task.set(Task {
            while true {
                try? await Task.sleep(for: .seconds(interval))
                if Task.isCancelled { break }
                do {
                    // One row: busy (0/1), frames in the log, frames checkpointed.
                    let row = try await connection.query("PRAGMA wal_checkpoint(PASSIVE)").first
                    if let frames = row?.column("log")?.integer, frames > 100_000 {
                        logger.warning("the SQLite log is large; a long-running reader may be holding it",
                                       metadata: ["wal.frames": "\(frames)"])
                    }
                } catch {
                    logger.error("WAL checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
            // The future-based close: the async one refuses to run in a cancelled task, and an
            // unclosed connection must not be released.
            do { try await connection.close().get() } catch {
                logger.error("closing the checkpoint connection failed", metadata: ["error": "\(error)"])
            }
        })
    }

    func shutdownAsync(_ application: Application) async {
        await task.cancelAndWait()
    }
}
