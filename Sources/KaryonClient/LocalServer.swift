import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `karyon up` child process on a free 127.0.0.1 port with its own data directory (SQLite and
/// blobs: the embedded default, whatever `KARYON_DATABASE_URL` says): for the load test and for
/// tests. ``stop(grace:)`` sends SIGTERM, then SIGKILL after the grace period.
public final class LocalServer: @unchecked Sendable {
    public let url: String
    public let port: Int
    public let dataDirectory: String
    public let logFile: String
    let process: Process
    private let lock = NSLock()

    private init(url: String, port: Int, dataDirectory: String, logFile: String, process: Process) {
        self.url = url
        self.port = port
        self.dataDirectory = dataDirectory
        self.logFile = logFile
        self.process = process
    }

    /// The program itself (`/proc/self/exe`), to run `karyon up` from `karyon loadtest`.
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts `executable up` and waits until `/readyz` answers 200. `onLaunch` is told about the
    /// child as soon as it runs (before it is ready), so an interrupted caller can stop it.
    /// `environment` adds to (or overrides) this process's environment for the child; `arguments`
    /// are added to `up`'s (e.g. `--worker-max 1`).
    /// - Throws: ``ClientError/Code/server`` when the child exits early (three tries, in case
    ///   another process took the port) or is not ready within `readyTimeout`.
    public static func start(executable: String, dataDirectory: String, logFile: String, readyTimeout: TimeInterval = 120,
                             environment extra: [String: String] = [:], arguments: [String] = [], onLaunch: (@Sendable (LocalServer) -> Void)? = nil) async throws -> LocalServer {
        var lastError: ClientError?
        for _ in 0..<3 {
            let port = try freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["up", "--data-dir", dataDirectory, "--host", "127.0.0.1", "--port", String(port)] + arguments
            var environment = ProcessInfo.processInfo.environment
            for key in ["KARYON_DATABASE_URL", "KARYON_KEY_FILE", "KARYON_JWT_KEY_FILE", "KARYON_DATA_DIR", "KARYON_HOST", "KARYON_PORT"] {
                environment.removeValue(forKey: key)
            }
            environment.merge(extra) { _, new in new }
            process.environment = environment
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            guard let log = FileHandle(forWritingAtPath: logFile) else { throw ClientError(.io, "cannot write \(logFile)") }
            log.seekToEndOfFile()
            process.standardOutput = log
            process.standardError = log
            process.standardInput = FileHandle.nullDevice
            do { try process.run() } catch {
                throw ClientError(.server, "cannot start \(executable)", cause: "\(error)")
            }
            try? log.close()
            let server = LocalServer(url: "http://127.0.0.1:\(port)", port: port, dataDirectory: dataDirectory, logFile: logFile, process: process)
            onLaunch?(server)
            let client = try APIClient(baseURL: server.url, token: nil)
            let deadline = Date().addingTimeInterval(readyTimeout)
            while Date() < deadline {
                guard process.isRunning else { break }
                if let reply = try? await client.send(.GET, "/readyz", timeout: .seconds(2)), reply.status == 200 { return server }
                try await Task.sleep(for: .milliseconds(200))
            }
            if process.isRunning {
                server.stop()
                throw ClientError(.server, "karyon up did not become ready within \(Int(readyTimeout)) s; see \(logFile)")
            }
            lastError = ClientError(.server, "karyon up exited with status \(process.terminationStatus) before it was ready: \(server.logTail())")
        }
        throw lastError!
    }

    /// The first-run administrator's password (`<data-dir>/initial-admin-password`).
    public func initialAdminPassword() throws -> String {
        let path = (dataDirectory as NSString).appendingPathComponent("initial-admin-password")
        guard let data = FileManager.default.contents(atPath: path),
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first else {
            throw ClientError(.server, "no first-run password in \(path) (was the data directory empty?)")
        }
        return String(line)
    }

    public var isRunning: Bool { process.isRunning }
    public var processID: Int32 { process.processIdentifier }

    /// SIGTERM, then SIGKILL once `grace` has passed; returns the exit status (nil when it could
    /// not be collected). Safe to call twice and from a signal handler's queue: it waits by
    /// watching the child's state in `/proc`, not on Foundation's run loop.
    @discardableResult
    public func stop(grace: TimeInterval = 15) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        let pid = process.processIdentifier
        if !hasExited {
            kill(pid, SIGTERM)
            waitForExit(until: Date().addingTimeInterval(grace))
            if !hasExited {
                kill(pid, SIGKILL)
                waitForExit(until: Date().addingTimeInterval(5))
            }
        }
        // Foundation collects the exit status on its own thread; give it a moment.
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Exited: collected by Foundation, or a zombie (or gone) as `/proc` sees it.
    private var hasExited: Bool {
        guard process.isRunning else { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    private func waitForExit(until deadline: Date) {
        while !hasExited, Date() < deadline { usleep(20_000) }
    }

    /// The last lines of the child's log, on one line.
    public func logTail(lines: Int = 5) -> String {
        let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: " | ")
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(.server, "cannot create a socket to find a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ClientError(.server, "cannot find a free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
