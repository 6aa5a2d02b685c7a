import Fluent
import Foundation
import KaryonPipeline

/// Admission control for uploads: caps concurrent uploads per user (reliability scenario
/// "concurrent uploads per user capped → 429", so one client cannot hold every slot) and over
/// all users, and refuses uploads while the analysis backlog is above its high-water mark
/// (backpressure: "503 with Retry-After instead of being accepted and dropped"), so memory and
/// queue depth stay bounded under bursts.
actor UploadGate {
    private let perUser: Int
    private let total: Int
    private let highWater: Int
    private var running: [UUID: Int] = [:]
    private var inFlight = 0
    /// The last backlog reading, reused for a second so a burst does not count the queue per request.
    private var backlog: (value: Int, at: Date)?

    init(perUser: Int, total: Int, highWater: Int) {
        self.perUser = perUser
        self.total = total
        self.highWater = highWater
    }

    /// Why an upload was not admitted.
    enum Refusal: Equatable {
        case userBusy(limit: Int)
        case serverBusy
        case backlog(Int)
    }

    /// Takes a slot for `user`, or says why not. Cheap checks first; the backlog count is read
    /// from the database at most once a second.
    func enter(_ user: UUID, db: any Database) async -> Refusal? {
        let n = running[user, default: 0]
        guard n < perUser else { return .userBusy(limit: perUser) }
        guard inFlight < total else { return .serverBusy }
        running[user] = n + 1
        inFlight += 1
        let now = Date()
        if backlog.map({ now.timeIntervalSince($0.at) > 1 }) ?? true {
            // A failed count admits the upload: the queue itself is the durable part.
            if let count = try? await JobQueue(database: db).ready(extractors: nil, now: now) { backlog = (count, now) }
        }
        if let b = backlog, b.value >= highWater {
            leave(user)
            return .backlog(b.value)
        }
        return nil
    }

    func leave(_ user: UUID) {
        let n = running[user, default: 1] - 1
        running[user] = n > 0 ? n : nil
        inFlight = max(0, inFlight - 1)
    }
}
