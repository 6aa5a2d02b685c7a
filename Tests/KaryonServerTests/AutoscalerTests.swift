import Fluent
import Foundation
import KaryonPipeline
import KaryonStore
import Logging
import KaryonTestSupport
import Testing
@testable import KaryonServer

@Suite("Autoscaling worker pools")
struct AutoscalerTests {
    let scaling = Scaling(min: 1, max: 8, targetBacklog: 5, idleCooldown: 20)

    func target(slots: Int, busy: Int, ready: Int, meanRun: Double?, idleFor: Double = 0) -> Int {
        Autoscaler.target(.init(slots: slots, busy: busy, ready: ready, meanRun: meanRun, idleFor: idleFor), scaling: scaling)
    }

    @Test("grows by half while the backlog would take longer than the target to drain, never past max or the work there is")
    func growth() {
        // 40 jobs × 1 s ÷ 2 slots = 20 s > 5 s → 2 + 1.
        #expect(target(slots: 2, busy: 2, ready: 40, meanRun: 1) == 3)
        #expect(target(slots: 4, busy: 4, ready: 40, meanRun: 1) == 6)
        #expect(target(slots: 6, busy: 6, ready: 400, meanRun: 1) == 8, "capped at max")
        #expect(target(slots: 8, busy: 8, ready: 400, meanRun: 1) == 8)
        // Short jobs: 40 × 0.1 s ÷ 2 = 2 s ≤ 5 s → no growth (the backlog drains fast enough).
        #expect(target(slots: 2, busy: 2, ready: 40, meanRun: 0.1) == 2)
        // Unknown run time (nothing finished yet): grow, but not past busy + ready.
        #expect(target(slots: 1, busy: 1, ready: 1, meanRun: nil) == 2)
        #expect(target(slots: 4, busy: 0, ready: 1, meanRun: nil) == 4, "never shrinks while work waits")
    }

    @Test("shrinks one slot per cooldown when idle, never below min; min 0 scales to zero and back")
    func shrink() {
        #expect(target(slots: 4, busy: 1, ready: 0, meanRun: 1, idleFor: 5) == 4, "idle, but not for long")
        #expect(target(slots: 4, busy: 1, ready: 0, meanRun: 1, idleFor: 20) == 3)
        #expect(target(slots: 1, busy: 0, ready: 0, meanRun: 1, idleFor: 999) == 1, "min 1")
        #expect(target(slots: 4, busy: 4, ready: 0, meanRun: 1, idleFor: 999) == 4, "every slot busy: nothing idle to give up")
        let zero = Scaling(min: 0, max: 4, targetBacklog: 5, idleCooldown: 1)
        #expect(Autoscaler.target(.init(slots: 1, busy: 0, ready: 0, meanRun: 1, idleFor: 2), scaling: zero) == 0)
        #expect(Autoscaler.target(.init(slots: 0, busy: 0, ready: 3, meanRun: 10, idleFor: 0), scaling: zero) == 1)
    }

    @Test("a pool grows under a backlog, reports itself in the registry and /api/v1/queue, and shrinks back when idle")
    func poolScales() async throws {
        try await TestServer.with { server in
            let (token, _) = try await server.account("scale@lab.example")
            let (_, _, study) = try await server.records(token: token, extractors: [["id": "lbp"]])
            let files = try (0..<24).map { ("f\($0).png", try TestImages.png(width: 160, height: 160, seed: 300 + $0)) }
            #expect(try await server.upload(files, study: study, token: token).status == .created)
            let quick = Scaling(min: 1, max: 3, targetBacklog: 0, idleCooldown: 0.3, interval: 0.1)
            let parts = try #require(server.parts)
            let (blobs, sqlitePath) = (parts.blobs, parts.sqlitePath)
            let pool = try #require(WorkerPools.make(database: server.app.db, blobs: blobs, registry: .standard, extractors: ["lbp"],
                                                     scaling: quick, sqlitePath: sqlitePath, idlePoll: 0.05, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })).first)
            await pool.start()
            var sawInQueue = 0
            let drained = await eventually(within: 120) {
                if sawInQueue == 0, let row = try? await server.send(.GET, "/api/v1/queue", token: token).array.first(where: { $0["extractor"] as? String == "lbp" }) {
                    sawInQueue = row["pool_size"] as? Int ?? 0
                }
                return (try? await Job.query(on: server.app.db).filter(\.$state == "succeeded").count()) == 24
            }
            #expect(drained)
            #expect(await pool.size.peak == 3, "grew to max under the backlog")
            #expect(sawInQueue >= 1, "the pool appears in /api/v1/queue")
            #expect(await eventually(within: 10) { await pool.size.slots == 1 }, "shrank back to min when idle")
            let live = try await WorkerRegistry(database: server.app.db).summary()
            #expect(live["lbp"]?.processes == 1)
            await pool.stop()
            #expect(try await WorkerRegistry(database: server.app.db).summary()["lbp"] == nil, "a stopped pool leaves the registry")
        }
    }
}
