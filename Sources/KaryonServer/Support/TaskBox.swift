import Foundation

/// Holds a lifecycle handler's background task (handlers are structs), so that shutdown can
/// cancel it and wait until it has finished.
final class TaskBox: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<Void, Never>?

    func set(_ task: Task<Void, Never>) { lock.withLock { self.task = task } }

    func cancelAndWait() async {
        let task = lock.withLock { () -> Task<Void, Never>? in defer { self.task = nil }; return self.task }
        task?.cancel()
        await task?.value
    }
}
