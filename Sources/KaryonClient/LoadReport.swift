import Foundation
import KaryonPipeline

/// What `karyon loadtest` measured (printed as text, written as JSON with snake_case keys).
///
/// - `images`: uploads the server acknowledged; `upload_failed`: uploads given up after retries.
/// - `jobs_expected`: images × the study's extractors; `succeeded`, `dead`: jobs in those end
///   states; `lost`: expected jobs with no end state when the wait ended (or whose image the
///   server no longer knows); `duplicated`: (image, extractor, version, parameter hash) keys
///   listed more than once by the results API.
/// - `throughput_images_per_second`: images whose every job succeeded, divided by the time from
///   the first upload to the last result; `throughput_jobs_per_second`: ended jobs over the same
///   time.
/// - `latency_seconds`: per image, from its upload's acknowledgement to its last result
///   (p50/p95/p99/max, nearest rank).
/// - per extractor: the peak of `pool_size` and `busy` reported by `GET /api/v1/queue` (null when
///   the server does not report them), the peak of running jobs and of waiting jobs (queued or
///   failed awaiting a retry), sampled every second; `peak_queue_depth`: the peak of waiting jobs
///   over all the test's extractors.
public struct LoadReport: Codable, Sendable {
    public struct Latency: Codable, Sendable, Equatable {
        public var p50: Double?
        public var p95: Double?
        public var p99: Double?
        public var max: Double?

        /// Nearest-rank percentiles of `values`.
        public init(_ values: [Double]) {
            let sorted = values.sorted()
            func rank(_ p: Double) -> Double? {
                guard !sorted.isEmpty else { return nil }
                return sorted[Swift.max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)]
            }
            p50 = rank(50)
            p95 = rank(95)
            p99 = rank(99)
            max = sorted.last
        }

        /// Unknown values are written as `null`, not left out.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(p50, forKey: .p50)
            try c.encode(p95, forKey: .p95)
            try c.encode(p99, forKey: .p99)
            try c.encode(max, forKey: .max)
        }
    }

    public struct ExtractorPeaks: Codable, Sendable, Equatable {
        public var id: String
        public var peakPoolSize: Int?
        public var peakBusy: Int?
        public var peakRunning: Int
        public var peakDepth: Int

        /// Pool size and busy slots the server did not report are written as `null`.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(peakPoolSize, forKey: .peakPoolSize)
            try c.encode(peakBusy, forKey: .peakBusy)
            try c.encode(peakRunning, forKey: .peakRunning)
            try c.encode(peakDepth, forKey: .peakDepth)
        }
    }

    public struct Schedule: Codable, Sendable, Equatable {
        public var burst: Int
        public var everySeconds: Double
        public var add: Int
        public var durationSeconds: Double
        public var timeScale: Double
    }

    /// The physical limit and how close the run came to it.
    public struct Limit: Codable, Sendable, Equatable {
        public var cores: Int
        public var sampleImages: Int
        public var extractors: [PhysicalLimit.Cost]
        public var cpuSecondsPerImage: Double
        public var imagesPerSecond: Double
        /// Throughput ÷ limit.
        public var ratio: Double
        public var bar: Double
        public var pass: Bool
        /// The two measurements the limit averages, when it was taken before and after the run.
        public var imagesPerSecondBefore: Double?
        public var imagesPerSecondAfter: Double?

        /// The limit of `before`, or of the mean of `before` and `after` when both were taken.
        public init(before: PhysicalLimit, after: PhysicalLimit?, throughput: Double, bar: Double = 0.9) {
            self.init(after.map { PhysicalLimit.mean(before, $0) } ?? before, throughput: throughput, bar: bar)
            if let after {
                imagesPerSecondBefore = before.imagesPerSecond
                imagesPerSecondAfter = after.imagesPerSecond
            }
        }

        public init(_ limit: PhysicalLimit, throughput: Double, bar: Double = 0.9) {
            cores = limit.cores
            sampleImages = limit.sampleImages
            extractors = limit.extractors
            cpuSecondsPerImage = limit.cpuSecondsPerImage
            imagesPerSecond = limit.imagesPerSecond
            ratio = limit.imagesPerSecond > 0 ? throughput / limit.imagesPerSecond : 0
            self.bar = bar
            pass = ratio >= bar
        }
    }

    public var server: String
    public var spawned: Bool
    public var studyId: String
    public var schedule: Schedule
    public var size: Int
    public var extractors: [String]
    public var renderSeconds: Double
    public var images: Int
    public var uploadFailed: Int
    public var jobsExpected: Int
    public var succeeded: Int
    public var dead: Int
    public var lost: Int
    public var duplicated: Int
    public var imagesFullyProcessed: Int
    public var uploadSeconds: Double
    public var elapsedSeconds: Double
    public var throughputImagesPerSecond: Double
    public var throughputJobsPerSecond: Double
    public var latencySeconds: Latency
    public var extractorPeaks: [ExtractorPeaks]
    public var peakQueueDepth: Int
    public var queueSamples: Int
    public var timedOut: Bool
    public var physicalLimit: Limit?
    /// CPU time this program (the load generator: uploads, polling, reading results) used from
    /// the first upload to the end; on the server's machine it takes cores from the pipeline.
    public var loadGeneratorCPUSeconds: Double?

    /// Nothing lost, nothing stored twice.
    public var passed: Bool { lost == 0 && duplicated == 0 }

    public var json: Data {
        get throws {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            return try encoder.encode(self) + Data("\n".utf8)
        }
    }

    public var text: String {
        func f(_ v: Double?, _ digits: Int = 2) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "n/a" }
        func n(_ v: Int?) -> String { v.map(String.init) ?? "unknown" }
        var lines = [
            "loadtest  \(server)\(spawned ? " (karyon up, started for the test)" : "")  study \(studyId)",
            "schedule  burst \(schedule.burst), add \(schedule.add) every \(DurationText.format(schedule.everySeconds)) for "
                + "\(DurationText.format(schedule.durationSeconds)), time scale \(f(schedule.timeScale, 0)); fields \(size)×\(size), "
                + "extractors \(extractors.joined(separator: ",")) (rendered in \(f(renderSeconds, 1)) s, before the test)",
            "images    \(images) acknowledged in \(f(uploadSeconds, 1)) s, \(uploadFailed) uploads failed",
            "jobs      expected \(jobsExpected), succeeded \(succeeded), dead \(dead), lost \(lost), duplicated \(duplicated)"
                + (timedOut ? "  (stopped waiting at the timeout)" : ""),
            "throughput \(f(throughputImagesPerSecond)) images/s (\(imagesFullyProcessed) fully processed in \(f(elapsedSeconds, 1)) s), "
                + "\(f(throughputJobsPerSecond)) jobs/s",
            "latency   upload acknowledged → last result: p50 \(f(latencySeconds.p50)) s, p95 \(f(latencySeconds.p95)) s, "
                + "p99 \(f(latencySeconds.p99)) s, max \(f(latencySeconds.max)) s",
            "queue     peak depth \(peakQueueDepth) waiting jobs (\(queueSamples) samples, one a second)",
        ]
        for peak in extractorPeaks {
            lines.append("  \(peak.id): peak pool size \(n(peak.peakPoolSize)), peak busy \(n(peak.peakBusy)), "
                         + "peak running \(peak.peakRunning), peak waiting \(peak.peakDepth)")
        }
        if let cpu = loadGeneratorCPUSeconds, elapsedSeconds > 0 {
            let cores = Double(physicalLimit?.cores ?? ProcessInfo.processInfo.activeProcessorCount)
            lines.append("client    this load generator used \(f(cpu, 1)) CPU-s during the test, \(f(100 * cpu / (cores * elapsedSeconds), 1))% of "
                         + "\(Int(cores)) cores (on a shared machine it is counted against the pipeline)")
        }
        if let limit = physicalLimit {
            let costs = limit.extractors.map { "\($0.id) \(f($0.cpuSecondsPerImage * 1000, 1)) ms" }.joined(separator: ", ")
            lines.append("limit     \(limit.cores) cores / \(f(limit.cpuSecondsPerImage * 1000, 1)) ms CPU per image (\(costs); "
                         + "\(limit.sampleImages) fields in a tight loop) = \(f(limit.imagesPerSecond)) images/s")
            if let before = limit.imagesPerSecondBefore, let after = limit.imagesPerSecondAfter {
                lines.append("          (the mean of two measurements: \(f(before)) images/s before the run, \(f(after)) after it)")
            }
            lines.append("ratio     throughput / physical limit = \(f(limit.ratio * 100, 1))%  [bar ≥ \(f(limit.bar * 100, 0))%: "
                         + "\(limit.pass ? "PASS" : "FAIL")]")
        }
        lines.append("result    \(passed ? "PASS" : "FAIL"): lost \(lost), duplicated \(duplicated)")
        return lines.joined(separator: "\n") + "\n"
    }
}
