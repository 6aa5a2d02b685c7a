import Foundation
import KaryonAnalysis
import KaryonClient
import KaryonImaging
import KaryonPipeline
import Testing

@Suite("The physical limit of the pipeline bench")
struct PhysicalLimitTests {
    private func limit(_ costs: [(String, Double)]) -> PhysicalLimit {
        PhysicalLimit(cores: 2, sampleImages: 20,
                      extractors: costs.map { .init(id: $0.0, version: "1.0.0", cpuSecondsPerImage: $0.1, wallSecondsPerImage: $0.1) })
    }

    @Test("limit = cores ÷ CPU per image; two measurements average per extractor; the ratio uses the mean")
    func arithmetic() {
        let before = limit([("intensity", 0.010), ("nuclei", 0.090)])   // 0.100 s per image → 20 images/s
        let after = limit([("intensity", 0.014), ("nuclei", 0.066)])    // 0.080 s per image → 25 images/s
        #expect(abs(before.imagesPerSecond - 20) < 1e-12)
        let mean = PhysicalLimit.mean(before, after)
        #expect(mean.extractors.map(\.id) == ["intensity", "nuclei"])
        #expect(abs(mean.extractors[0].cpuSecondsPerImage - 0.012) < 1e-12)
        #expect(abs(mean.cpuSecondsPerImage - 0.090) < 1e-12)
        #expect(mean.sampleImages == 40)
        let report = LoadReport.Limit(before: before, after: after, throughput: 20)
        #expect(abs(report.imagesPerSecond - 2 / 0.090) < 1e-9)
        #expect(abs(report.ratio - 20 * 0.090 / 2) < 1e-9)
        #expect(report.pass == (report.ratio >= 0.9))
        #expect(report.imagesPerSecondBefore == before.imagesPerSecond && report.imagesPerSecondAfter == after.imagesPerSecond)
        let single = LoadReport.Limit(before: before, after: nil, throughput: 18)
        #expect(single.imagesPerSecondBefore == nil && abs(single.ratio - 0.9) < 1e-12 && single.pass)
    }
}
