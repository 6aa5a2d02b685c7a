import Foundation

/// Caps concurrent uploads per user (reliability scenario "concurrent uploads per user capped →
/// 429"), so one client cannot hold every upload slot.
actor UploadGate {
    private let limit: Int
    private var running: [UUID: Int] = [:]

    init(limit: Int) { self.limit = limit }

    /// Takes a slot for `user`, or returns false when the user already has `limit` uploads running.
    func enter(_ user: UUID) -> Bool {
        let n = running[user, default: 0]
        guard n < limit else { return false }
        running[user] = n + 1
        return true
    }

    func leave(_ user: UUID) {
        let n = running[user, default: 1] - 1
        running[user] = n > 0 ? n : nil
    }
}
