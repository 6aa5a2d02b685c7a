import Foundation
import KaryonAnalysis
import KaryonImaging
#if canImport(Glibc)
import Glibc
#endif

/// The throughput a machine could reach if it did nothing but the workers' work: every configured
/// extractor run over sample images in a tight loop, one at a time, through the same decode and
/// run path as a worker (``JobRunner/extract(_:with:pixelSizeMicrons:sha256:options:name:)``).
///
/// `limit = cores / Σ cpuSecondsPerImage` images per second, where the sum runs over the
/// extractors (each image is decoded once per extractor, as each job does) and `cores` is the
/// number of active processors. CPU time is the process's user + system time (libvips threads
/// included), so the measurement must run while the process does nothing else.
public struct PhysicalLimit: Sendable, Codable, Equatable {
    /// One extractor's mean cost per image.
    public struct Cost: Sendable, Codable, Equatable {
        public var id: String
        public var version: String
        public var cpuSecondsPerImage: Double
        public var wallSecondsPerImage: Double

        public init(id: String, version: String, cpuSecondsPerImage: Double, wallSecondsPerImage: Double) {
            self.id = id
            self.version = version
            self.cpuSecondsPerImage = cpuSecondsPerImage
            self.wallSecondsPerImage = wallSecondsPerImage
        }
    }

    public var cores: Int
    public var sampleImages: Int
    public var extractors: [Cost]

    public init(cores: Int, sampleImages: Int, extractors: [Cost]) {
        self.cores = cores
        self.sampleImages = sampleImages
        self.extractors = extractors
    }

    /// CPU seconds one image costs across all extractors.
    public var cpuSecondsPerImage: Double { extractors.reduce(0) { $0 + $1.cpuSecondsPerImage } }

    /// Images per second the cores could process at best.
    public var imagesPerSecond: Double { cpuSecondsPerImage > 0 ? Double(cores) / cpuSecondsPerImage : 0 }

    /// Runs each extractor once on the first image (warm-up, not counted), then over every image.
    /// - Parameters:
    ///   - images: encoded image files and their SHA-256 (hex), at least one.
    ///   - pixelSizeMicrons: what the workers will see (the study's pixel size).
    /// - Throws: ``JobRunner/Failure`` when an extractor fails on a sample image.
    public static func measure(images: [(bytes: Data, sha256: String)], extractors: [ConfiguredExtractor], pixelSizeMicrons: Double?,
                               cores: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> PhysicalLimit {
        precondition(!images.isEmpty, "the physical limit needs at least one sample image")
        JobRunner.configureProcess()  // as the workers do
        var costs: [Cost] = []
        for configured in extractors {
            _ = try JobRunner.extract(images[0].bytes, with: configured, pixelSizeMicrons: pixelSizeMicrons, sha256: images[0].sha256)
            let cpu0 = processCPUSeconds(), wall0 = Date()
            for image in images {
                _ = try JobRunner.extract(image.bytes, with: configured, pixelSizeMicrons: pixelSizeMicrons, sha256: image.sha256)
            }
            let n = Double(images.count)
            costs.append(Cost(id: configured.descriptor.id, version: configured.descriptor.version,
                              cpuSecondsPerImage: (processCPUSeconds() - cpu0) / n, wallSecondsPerImage: Date().timeIntervalSince(wall0) / n))
        }
        return PhysicalLimit(cores: max(1, cores), sampleImages: images.count, extractors: costs)
    }

    /// The mean of two measurements of the same extractors (say, before and after a load test, so
    /// that a machine that runs slower or faster meanwhile moves the limit with it).
    public static func mean(_ a: PhysicalLimit, _ b: PhysicalLimit) -> PhysicalLimit {
        precondition(a.extractors.map(\.id) == b.extractors.map(\.id), "the same extractors, in the same order")
        let costs = zip(a.extractors, b.extractors).map { x, y in
            Cost(id: x.id, version: x.version, cpuSecondsPerImage: (x.cpuSecondsPerImage + y.cpuSecondsPerImage) / 2,
                 wallSecondsPerImage: (x.wallSecondsPerImage + y.wallSecondsPerImage) / 2)
        }
        return PhysicalLimit(cores: a.cores, sampleImages: a.sampleImages + b.sampleImages, extractors: costs)
    }

    /// User plus system CPU time of this process so far, in seconds.
    public static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
