import Foundation
import Logging
import NIOConcurrencyHelpers
import Vapor

/// Runs and watches the worker processes of `karyon up`: one `karyon worker` per extractor (the
/// same binary), so an extractor that crashes takes down only its own process and attempt. A
/// process that exits is started again after a back-off (1 s, doubling while it keeps dying
/// young, at most 30 s). At shutdown every worker gets SIGTERM (finish or release, then exit)
/// and SIGKILL if it outlives the grace period. Each worker's standard input is a wake pipe: the
/// server writes an extractor's id there when it enqueues jobs of it (``wake(_:)``), so workers
/// on SQLite, which has no notifications, claim at once and otherwise poll rarely.
final class WorkerSupervisor: LifecycleHandler, Sendable {
    struct Child: Sendable {
        let name: String
        let arguments: [String]
    }

    let executable: URL
    let children: [Child]
    let environment: [String: String]
    let grace: TimeInterval
    let logger: Logger

    private struct Running {
        var process: Process
        var started: Date
        /// The wait before the next restart if this one dies young.
        var delay: TimeInterval
        /// The write end of the worker's wake pipe (its standard input), non-blocking.
        var wake: FileHandle
    }

    private let state = NIOLockedValueBox<(stopping: Bool, running: [String: Running])>((false, [:]))

    init(executable: URL, children: [Child], environment: [String: String], grace: TimeInterval, logger: Logger) {
        self.executable = executable
        self.children = children
        self.environment = environment
        self.grace = grace
        self.logger = logger
        // A wake-up written to a worker that has just died must not kill the server.
        signal(SIGPIPE, SIG_IGN)
    }

    /// This program's own executable (Linux: `/proc/self/exe`).
    static var currentExecutable: URL {
        let proc = URL(fileURLWithPath: "/proc/self/exe")
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: proc.path) { return URL(fileURLWithPath: target) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    }

    func didBootAsync(_ application: Application) async throws {
        for child in children { try launch(child, delay: 1) }
    }

    private func launch(_ child: Child, delay: TimeInterval) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = child.arguments
        var env = environment
        env["KARYON_SUPERVISOR_PID"] = String(getpid())
        env["KARYON_WAKE_PIPE"] = "stdin"
        process.environment = env
        let pipe = Pipe()
        process.standardInput = pipe
        // A full pipe means wake-ups are already pending: the write is dropped, never waited for.
        let flags = fcntl(pipe.fileHandleForWriting.fileDescriptor, F_GETFL)
        _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, F_SETFL, flags | O_NONBLOCK)
        process.terminationHandler = { [weak self] p in self?.exited(child, process: p) }
        let started = try state.withLockedValue { s -> Bool in
            guard !s.stopping else { return false }
            try process.run()
            s.running[child.name] = Running(process: process, started: Date(), delay: delay, wake: pipe.fileHandleForWriting)
            return true
        }
        if started {
            logger.info("worker process started", metadata: ["worker": "\(child.name)", "pid": "\(process.processIdentifier)"])
        }
    }

    /// Tells the workers of `extractors` that jobs of theirs may have become runnable: one line
    /// per extractor on each such worker's wake pipe. Never blocks; a worker that has gone away or
    /// has unread wake-ups already loses nothing by missing one (it claims at its next poll).
    func wake(_ extractors: Set<String>) {
        state.withLockedValue { s in
            for (name, running) in s.running where extractors.contains(name) {
                let line = Array((name + "\n").utf8)
                _ = line.withUnsafeBytes { write(running.wake.fileDescriptor, $0.baseAddress, $0.count) }
            }
        }
    }

    private func exited(_ child: Child, process: Process) {
        let (stopping, previous) = state.withLockedValue { s -> (Bool, Running?) in
            let previous = s.running[child.name]
            if previous?.process === process {
                s.running[child.name] = nil
                previous?.wake.closeFile()
            }
            return (s.stopping, previous)
        }
        guard !stopping else { return }
        let lived = Date().timeIntervalSince(previous?.started ?? Date())
        // Wait 1 s, doubling while the worker keeps dying young (under 10 s), at most 30 s; a
        // worker that ran for a minute starts again after 1 s.
        let wait: TimeInterval = lived > 60 ? 1 : (previous?.delay ?? 1)
        let next: TimeInterval = lived < 10 ? min(30, wait * 2) : wait
        let how = process.terminationReason == .uncaughtSignal ? "signal \(process.terminationStatus)" : "status \(process.terminationStatus)"
        logger.warning("worker process exited; restarting", metadata: ["worker": "\(child.name)", "exit": "\(how)",
                                                                       "after": "\(Int(lived)) s", "restart_in": "\(wait) s"])
        DispatchQueue.global().asyncAfter(deadline: .now() + wait) { [weak self] in
            guard let self else { return }
            do { try self.launch(child, delay: next) } catch {
                self.logger.error("worker process could not start", metadata: ["worker": "\(child.name)", "error": "\(error)"])
            }
        }
    }

    func shutdownAsync(_ application: Application) async {
        let processes = state.withLockedValue { s -> [Process] in
            s.stopping = true
            return s.running.values.map(\.process)
        }
        for p in processes where p.isRunning { kill(p.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace + 5)
        while processes.contains(where: \.isRunning), Date() < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for p in processes where p.isRunning {
            logger.warning("worker process outlived the grace period; killing it", metadata: ["pid": "\(p.processIdentifier)"])
            kill(p.processIdentifier, SIGKILL)
        }
        for p in processes { p.waitUntilExit() }
    }
}
