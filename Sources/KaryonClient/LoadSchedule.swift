import Foundation

/// When a load test uploads how many images: a burst at the start, then `add` more every
/// `every` while the schedule lasts (at every multiple of `every` strictly before `duration`),
/// the whole compressed by `timeScale` (60 runs a 2-hour schedule in 2 minutes).
///
/// The CBIR paper's test is `burst 2500, every 20m, add 1000, duration 2h`: 2,500 images at
/// once and 1,000 more at 20, 40, 60, 80 and 100 minutes (7,500 in all).
public struct LoadSchedule: Sendable, Equatable {
    public var burst: Int
    public var every: TimeInterval
    public var add: Int
    public var duration: TimeInterval
    public var timeScale: Double

    /// One upload batch: when (seconds after the start, in schedule time and in real time) and
    /// how many images.
    public struct Batch: Sendable, Equatable {
        public var at: TimeInterval
        public var realAt: TimeInterval
        public var count: Int
    }

    /// Most images one test may schedule.
    public static let maxImages = 200_000

    /// - Throws: ``ClientError/Code/badInput`` for negative counts, a time scale that is not
    ///   positive, an `add` that would never happen, or more than ``maxImages`` images.
    public init(burst: Int, every: TimeInterval, add: Int, duration: TimeInterval, timeScale: Double) throws {
        func bad(_ message: String) -> ClientError { ClientError(.badInput, message) }
        guard burst >= 0 else { throw bad("--burst must be 0 or more, got \(burst)") }
        guard add >= 0 else { throw bad("--add must be 0 or more, got \(add)") }
        guard timeScale > 0, timeScale.isFinite, timeScale <= 1_000_000 else { throw bad("--time-scale must be above 0 (60 runs 1h in 1m), got \(timeScale)") }
        if add > 0 {
            guard every > 0 else { throw bad("--every must be above 0 when --add is given") }
            guard duration > every else {
                throw bad("--add \(add) would never happen: --duration (\(DurationText.format(duration))) must be longer than --every (\(DurationText.format(every)))")
            }
        }
        self.burst = burst
        self.every = every
        self.add = add
        self.duration = duration
        self.timeScale = timeScale
        guard totalImages >= 1 else { throw bad("the schedule uploads no image: give --burst or --add with --duration") }
        guard totalImages <= Self.maxImages else { throw bad("the schedule uploads \(totalImages) images; at most \(Self.maxImages)") }
    }

    /// Additions after the burst.
    public var additions: Int {
        guard add > 0, every > 0, duration > every else { return 0 }
        return Int((duration / every).rounded(.up)) - 1
    }

    public var totalImages: Int { burst + add * additions }

    public var batches: [Batch] {
        var out: [Batch] = []
        if burst > 0 { out.append(Batch(at: 0, realAt: 0, count: burst)) }
        for k in stride(from: 1, through: additions, by: 1) {
            let at = Double(k) * every
            out.append(Batch(at: at, realAt: at / timeScale, count: add))
        }
        return out
    }
}
