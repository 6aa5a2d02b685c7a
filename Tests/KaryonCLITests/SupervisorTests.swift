import Foundation
import KaryonTestSupport
import Testing

/// `karyon up` supervising its worker processes (real processes on 127.0.0.1).
@Suite("karyon up: supervised worker processes")
struct SupervisorTests {
    @Test("one worker process per extractor; a killed worker is restarted; SIGTERM stops the server and every worker")
    func supervises() async throws {
        let dir = NSTemporaryDirectory() + "karyon-up-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try freeLocalPort()
        let up = try KaryonChild(["up", "--data-dir", dir, "--port", String(port), "--worker-max", "2"],
                                 environment: ["KARYON_WORKER_POLL_MS": "200"], logPath: dir + ".log")
        defer {
            for pid in childProcesses(of: up.pid) { kill(pid, SIGKILL) }
            up.killNow()
            try? FileManager.default.removeItem(atPath: dir + ".log")
        }
        let extractors = try KaryonProcess.run(["extractors"]).stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") }.count
        try #require(extractors >= 5, "the registry lists the built-in extractors")
        let started = await eventually(within: 120) {
            childProcesses(of: up.pid).count == extractors && up.log.components(separatedBy: "worker started").count - 1 == extractors
        }
        try #require(started, "expected \(extractors) workers: \(up.log.suffix(3000))")
        let before = Set(childProcesses(of: up.pid))
        let victim = try #require(before.first)
        kill(victim, SIGKILL)
        let replaced = await eventually(within: 30) {
            let now = Set(childProcesses(of: up.pid))
            return now.count == extractors && !now.contains(victim)
        }
        #expect(replaced, "the killed worker was not restarted: \(up.log.suffix(3000))")
        #expect(up.log.contains("worker process exited; restarting"))
        let children = childProcesses(of: up.pid)
        up.signal(SIGTERM)
        #expect(await up.wait(upTo: 60) == 0, "\(up.log.suffix(3000))")
        for pid in children {
            #expect(kill(pid, 0) != 0, "worker \(pid) outlived the server")
        }
    }
}
