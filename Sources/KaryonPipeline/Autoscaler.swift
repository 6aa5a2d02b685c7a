import Foundation

/// How a worker pool sizes itself: between ``min`` and ``max`` job slots, growing while its
/// backlog would take longer than ``targetBacklog`` to drain at the current size, shrinking one
/// slot at a time after slots have stood idle for ``idleCooldown``.
public struct Scaling: Sendable, Equatable {
    public var min: Int
    public var max: Int
    /// The longest the runnable backlog should take to drain (queue depth × mean run time ÷ slots).
    public var targetBacklog: TimeInterval
    /// How long a slot must have been idle (no backlog) before the pool gives it up.
    public var idleCooldown: TimeInterval
    /// How often the pool reads its backlog and reports itself.
    public var interval: TimeInterval

    public init(min: Int = 1, max: Int = 1, targetBacklog: TimeInterval = 5, idleCooldown: TimeInterval = 20, interval: TimeInterval = 1) {
        self.min = Swift.max(0, min)
        self.max = Swift.max(Swift.max(1, min), max)
        self.targetBacklog = targetBacklog
        self.idleCooldown = idleCooldown
        self.interval = interval
    }

    /// A fixed-size pool.
    public static func fixed(_ n: Int) -> Scaling { Scaling(min: n, max: n) }
}

/// The pool-size decision, free of clocks and databases so it can be tested on its own.
///
/// Scaling on queue depth and job latency the way KEDA's queue scalers and AWS's "backlog per
/// instance" target tracking do: the backlog in seconds is what matters, not the job count.
public enum Autoscaler {
    /// What the pool sees at a scaling tick.
    public struct Reading: Sendable, Equatable {
        /// Slots now.
        public var slots: Int
        /// Slots running a job.
        public var busy: Int
        /// Runnable jobs waiting for this pool's extractor (all processes share them).
        public var ready: Int
        /// Mean run time of recent jobs here, nil before the first one.
        public var meanRun: TimeInterval?
        /// How long the pool has had idle slots and no backlog.
        public var idleFor: TimeInterval

        public init(slots: Int, busy: Int, ready: Int, meanRun: TimeInterval?, idleFor: TimeInterval) {
            self.slots = slots
            self.busy = busy
            self.ready = ready
            self.meanRun = meanRun
            self.idleFor = idleFor
        }
    }

    /// The slot count for the next interval.
    public static func target(_ r: Reading, scaling: Scaling) -> Int {
        let slots = min(max(r.slots, scaling.min), scaling.max)
        if r.ready > 0 {
            guard slots < scaling.max else { return slots }
            // Before the first job finishes the run time is unknown: assume the worst and grow.
            let run = r.meanRun ?? .infinity
            let drain = Double(r.ready) * run / Double(max(slots, 1))
            guard drain > scaling.targetBacklog else { return slots }
            // Grow by half (at least one), never past max nor past the work there is.
            let grown = slots + max(1, slots / 2)
            return max(slots, min(scaling.max, grown, r.busy + r.ready))
        }
        if slots > scaling.min, r.busy < slots, r.idleFor >= scaling.idleCooldown {
            return slots - 1
        }
        return slots
    }
}
