import Foundation

/// Wakes claimers waiting for work when jobs become runnable in this process (an upload commits,
/// a study subscribes with backfill, a dead job is requeued), so a long-polling worker gets a job
/// at once instead of at its next poll; listeners pass the news on to worker pools (in this
/// process, or in `karyon up`'s worker processes over a pipe).
///
/// It is a hint, not the truth: the queue is. A waiter always claims through ``JobQueue/claim(extractors:worker:now:)``
/// after waking, and waits with a timeout, so jobs that become due without a signal (a retry's
/// backoff ending, an insert by another server process sharing the database) are found by the
/// next poll.
public actor JobSignal {
    private struct Waiter {
        let extractors: Set<String>
        let continuation: CheckedContinuation<Void, Never>
    }

    private var waiters: [UUID: Waiter] = [:]
    /// Told of every notification: pools in this process, worker processes over their wake pipes.
    private var listeners: [@Sendable (Set<String>) -> Void] = []
    /// Waits in progress, and those whose timeout or cancellation came before they were registered.
    private var pending: Set<UUID> = []
    private var expired: Set<UUID> = []

    public init() {}

    /// Also tells `listener` of every notification from now on (it must return quickly).
    public func addListener(_ listener: @escaping @Sendable (Set<String>) -> Void) {
        listeners.append(listener)
    }

    /// Wakes every waiter interested in one of `extractors`, and tells the listeners.
    public func notify(_ extractors: some Sequence<String>) {
        let changed = Set(extractors)
        guard !changed.isEmpty else { return }
        for listener in listeners { listener(changed) }
        for (id, waiter) in waiters where !waiter.extractors.isDisjoint(with: changed) {
            waiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
    }

    /// Returns when one of `extractors` is notified, `timeout` has passed, or the task is cancelled,
    /// whichever comes first.
    public func wait(for extractors: Set<String>, timeout: Duration) async {
        guard timeout > .zero, !Task.isCancelled else { return }
        let id = UUID()
        pending.insert(id)
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self?.wake(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                if expired.remove(id) != nil {
                    continuation.resume()
                } else {
                    waiters[id] = Waiter(extractors: extractors, continuation: continuation)
                }
            }
        } onCancel: {
            Task { await self.wake(id) }
        }
        timer.cancel()
        pending.remove(id)
        expired.remove(id)
    }

    /// How many claimers are waiting (for tests and metrics).
    public var waiting: Int { waiters.count }

    private func wake(_ id: UUID) {
        if let waiter = waiters.removeValue(forKey: id) {
            waiter.continuation.resume()
        } else if pending.contains(id) {
            expired.insert(id)
        }
    }
}
