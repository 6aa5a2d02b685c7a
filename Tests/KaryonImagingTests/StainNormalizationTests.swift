import Foundation
@testable import KaryonImaging
import KaryonTestSupport
import Testing

/// Golden files: Tests/Fixtures/normalization, written by scripts/fixtures/make_normalization_fixtures.py
/// with torchstain 1.4.1's numpy backend (Io = 240, alpha = 1, beta = 0.15).
@Suite("Stain normalisation: Macenko and Reinhard")
struct StainNormalizationTests {
    let source = try! Fixtures.rgb8("normalization/ihc-source.png")
    let target = try! Fixtures.rgb8("normalization/ihc-target.png")
    let synthetic = try! Fixtures.rgb8("normalization/synthetic.png")
    let expected = try! Fixtures.expected("normalization")

    func macenkoFixture(_ name: String) -> (h: [Double], e: [Double], max: [Double]) {
        let m = expected["macenko"] as! [String: Any]
        let e = name == "default" ? m["default_target"] as! [String: Any]
            : (m["estimates"] as! [String: Any])[name] as! [String: Any]
        return (e["hematoxylin"] as! [Double], e["eosin"] as! [Double], e["max_concentrations"] as! [Double])
    }

    func reinhardFixture(_ kind: String, _ name: String) -> (means: [Double], stds: [Double]) {
        let r = (expected["reinhard"] as! [String: Any])[kind] as! [String: Any]
        let s = r[name] as! [String: Any]
        return (s["means"] as! [Double], s["stds"] as! [Double])
    }

    func vector(_ s: StainVector) -> [Double] { [s.r, s.g, s.b] }

    /// Largest absolute sample difference and number of differing samples.
    func difference(_ a: Image<UInt8>, _ b: Image<UInt8>) -> (max: Int, count: Int) {
        #expect(a.width == b.width && a.height == b.height && a.channels == b.channels)
        var worst = 0, count = 0
        for (x, y) in zip(a.pixels, b.pixels) where x != y {
            worst = max(worst, abs(Int(x) - Int(y)))
            count += 1
        }
        return (worst, count)
    }

    // MARK: Macenko

    @Test("Macenko stain vectors and max concentrations equal torchstain's fit", arguments: [
        ("ihc-source", "normalization/ihc-source.png"),
        ("ihc-target", "normalization/ihc-target.png"),
        ("synthetic", "normalization/synthetic.png"),
    ])
    func macenkoEstimate(name: String, file: String) throws {
        let estimate = try estimateStainsMacenko(try Fixtures.rgb8(file))
        let want = macenkoFixture(name)
        let h = vector(estimate.stains.stains[0]), e = vector(estimate.stains.stains[1])
        // Achieved: |Δ| ≤ 1.1e-14 for the vectors, ≤ 3.6e-15 for the concentrations.
        #expect(firstMismatch(h, want.h, absolute: 1e-6) == nil, "hematoxylin \(h) vs \(want.h)")
        #expect(firstMismatch(e, want.e, absolute: 1e-6) == nil, "eosin \(e) vs \(want.e)")
        let maxC = [estimate.maxConcentrations.0, estimate.maxConcentrations.1]
        #expect(firstMismatch(maxC, want.max, absolute: 1e-6) == nil, "max concentrations \(maxC) vs \(want.max)")
        // Unit vectors; the residual is orthogonal to both.
        let r = vector(estimate.stains.stains[2])
        #expect(abs(dot3(h, h) - 1) < 1e-12 && abs(dot3(e, e) - 1) < 1e-12)
        #expect(abs(dot3(r, h)) < 1e-12 && abs(dot3(r, e)) < 1e-12)
    }

    @Test("the default target is torchstain's HERef and maxCRef")
    func macenkoReference() {
        let want = macenkoFixture("default")
        let ref = MacenkoEstimate.reference
        #expect(vector(ref.stains.stains[0]) == want.h)
        #expect(vector(ref.stains.stains[1]) == want.e)
        #expect([ref.maxConcentrations.0, ref.maxConcentrations.1] == want.max)
    }

    @Test("Macenko normalised images equal torchstain's within one grey level")
    func macenkoImages() throws {
        // ihc-source → ihc-target estimate: achieved max |Δ| 0, 0 of 49152 samples differ.
        let toTarget = try normalizeMacenko(source, target: try estimateStainsMacenko(target))
        let d1 = difference(toTarget, try Fixtures.rgb8("normalization/macenko-source-to-target.png"))
        #expect(d1.max <= 1, "source → target: max |Δ| \(d1.max), \(d1.count) samples differ")
        // ihc-source → default reference: achieved max |Δ| 0, 0 of 49152 samples differ.
        let toDefault = try normalizeMacenko(source)
        let d2 = difference(toDefault, try Fixtures.rgb8("normalization/macenko-source-default.png"))
        #expect(d2.max <= 1, "source → default: max |Δ| \(d2.max), \(d2.count) samples differ")
        // synthetic → default reference: achieved max |Δ| 0, 0 of 4608 samples differ.
        let synth = try normalizeMacenko(synthetic)
        let d3 = difference(synth, try Fixtures.rgb8("normalization/macenko-synthetic-default.png"))
        #expect(d3.max <= 1, "synthetic → default: max |Δ| \(d3.max), \(d3.count) samples differ")
        // Passing the source estimate explicitly is the same as letting it be estimated.
        let explicit = try normalizeMacenko(source, source: try estimateStainsMacenko(source), target: try estimateStainsMacenko(target))
        #expect(explicit == toTarget)
    }

    @Test("property: the synthetic image's estimated stains point along the stains that rendered it")
    func macenkoRecoversStains() throws {
        let estimate = try estimateStainsMacenko(synthetic)
        let h = StainVector("H", 0.65, 0.70, 0.29).normalized(), e = StainVector("E", 0.07, 0.99, 0.11).normalized()
        #expect(dot3(vector(estimate.stains.stains[0]), vector(h)) > 0.999)
        // 0.989: the 1st/99th-percentile angles lie inside the pure-stain directions when few pixels hold one stain alone.
        #expect(dot3(vector(estimate.stains.stains[1]), vector(e)) > 0.98)
    }

    @Test("property: a mask gives the estimate of the pixels it selects")
    func macenkoMask() throws {
        var mask = Image<UInt8>(width: source.width, height: source.height, channels: 1, repeating: 0)
        for y in 0..<source.height { for x in 0..<50 { mask[x, y, 0] = 255 } }
        let masked = try estimateStainsMacenko(source, mask: mask)
        let cropped = try estimateStainsMacenko(try source.cropped(x: 0, y: 0, width: 50, height: source.height))
        for k in 0..<2 {
            #expect(firstMismatch(vector(masked.stains.stains[k]), vector(cropped.stains.stains[k]), absolute: 1e-12) == nil)
        }
        #expect(abs(masked.maxConcentrations.0 - cropped.maxConcentrations.0) < 1e-12)
        #expect(abs(masked.maxConcentrations.1 - cropped.maxConcentrations.1) < 1e-12)
        #expect(masked != (try estimateStainsMacenko(source)))
    }

    @Test("literal: pixels rendered from the target's own stains come back as I + 1 (torchstain's (I + 1)/Io)")
    func macenkoIdentity() throws {
        // Two reference stains, amounts (0.5, 0.2) and (1.0, 0.8): I = 240·exp(−OD) − 1 exactly in the
        // stain plane, so re-rendering with source = target gives back 240·exp(−OD) = I + 1.
        let ref = MacenkoEstimate.reference
        let h = vector(ref.stains.stains[0]), e = vector(ref.stains.stains[1])
        var pixels: [UInt8] = []
        var exact: [Double] = []
        for (ch, ce) in [(0.5, 0.2), (1.0, 0.8)] {
            for k in 0..<3 {
                let v = 240 * exp(-(ch * h[k] + ce * e[k]))
                exact.append(v)
                pixels.append(UInt8((v - 1).rounded()))
            }
        }
        let image = try Image<UInt8>(width: 2, height: 1, channels: 3, pixels: pixels)
        let out = try normalizeMacenko(image, source: ref, target: ref).pixels
        for i in out.indices {
            #expect(abs(Double(out[i]) - exact[i]) < 1.01, "sample \(i): \(out[i]) vs \(exact[i])")
        }
    }

    @Test("RGBA keeps its alpha; amounts above the target's range clip at 255")
    func macenkoAlpha() throws {
        var rgba: [UInt8] = []
        for p in source.pixels.chunked(3) { rgba += p + [77] }
        let image = try Image<UInt8>(width: source.width, height: source.height, channels: 4, pixels: rgba)
        let out = try normalizeMacenko(image)
        #expect(out.channels == 4)
        #expect(out.pixels.chunked(4).allSatisfy { $0[3] == 77 })
        #expect(try out.channel(0) == (try normalizeMacenko(source).channel(0)))
    }

    // MARK: Reinhard

    @Test("Reinhard statistics equal the float64 evaluation of torchstain's formulas, and torchstain's float32 ones")
    func reinhardStatisticsFixture() throws {
        for (name, image) in [("ihc-source", source), ("ihc-target", target), ("synthetic", synthetic)] {
            let stats = try reinhardStatistics(image)
            let want = reinhardFixture("float64", name)
            // Achieved: |Δ| ≤ 1e-14.
            #expect(firstMismatch(stats.means, want.means, absolute: 1e-9) == nil, "\(name) means \(stats.means) vs \(want.means)")
            #expect(firstMismatch(stats.stds, want.stds, absolute: 1e-9) == nil, "\(name) stds \(stats.stds) vs \(want.stds)")
        }
        for (name, image) in [("ihc-source", source), ("ihc-target", target)] {
            let stats = try reinhardStatistics(image)
            let want = reinhardFixture("torchstain_float32", name)
            // torchstain computes in float32. Achieved: |Δ| ≤ 4.8e-6, relative ≤ 2.5e-6.
            #expect(firstMismatch(stats.means, want.means, absolute: 1e-5, relative: 1e-5) == nil, "\(name) means")
            #expect(firstMismatch(stats.stds, want.stds, absolute: 1e-5, relative: 1e-5) == nil, "\(name) stds")
        }
    }

    @Test("Reinhard normalised image equals torchstain's within one grey level")
    func reinhardImage() throws {
        let out = try normalizeReinhard(source, target: try reinhardStatistics(target))
        // Achieved: max |Δ| 1, 6 of 49152 samples differ (torchstain's float32 values truncate to the other side of an integer).
        let d = difference(out, try Fixtures.rgb8("normalization/reinhard-source-to-target.png"))
        #expect(d.max <= 1, "max |Δ| \(d.max), \(d.count) samples differ")
    }

    @Test("literal: L*a*b* of black is (0, 0, 0), of white (100, −0.00245, 0.00465); a uniform image has zero stds")
    func reinhardLiteral() throws {
        let black = try reinhardStatistics(Image(width: 2, height: 2, channels: 3, repeating: 0))
        #expect(black.means == [0, 0, 0] && black.stds == [0, 0, 0])
        let white = try reinhardStatistics(Image(width: 3, height: 1, channels: 3, repeating: 255))
        #expect(firstMismatch(white.means, [100.0, -0.0024549378620508655, 0.004653421154054982], absolute: 1e-9) == nil)
        let orange = try reinhardStatistics(Image(width: 1, height: 1, channels: 3, pixels: [200, 100, 50]))
        #expect(firstMismatch(orange.means, [53.62950800539636, 36.305164189407215, 45.38047187618602], absolute: 1e-9) == nil)
        // Normalising a uniform image shifts it onto the target colour.
        let grey = Image<UInt8>(width: 2, height: 2, channels: 3, repeating: 128)
        let shifted = try normalizeReinhard(grey, target: orange)
        for p in shifted.pixels.chunked(3) { #expect(abs(Int(p[0]) - 200) <= 1 && abs(Int(p[1]) - 100) <= 1 && abs(Int(p[2]) - 50) <= 1, "\(p)") }
    }

    @Test("property: normalising an image to its own statistics returns it within one grey level")
    func reinhardIdentity() throws {
        for image in [source, target, synthetic] {
            let out = try normalizeReinhard(image, target: try reinhardStatistics(image))
            // Truncation, not rounding: a sample that comes back as v − 1e-13 becomes v − 1, which
            // happens to about half the samples (achieved: max |Δ| 1).
            let d = difference(out, image)
            #expect(d.max <= 1, "max |Δ| \(d.max), \(d.count) samples differ")
        }
    }

    @Test("property: with a mask, statistics come from inside it and pixels outside are unchanged")
    func reinhardMask() throws {
        var mask = Image<UInt8>(width: source.width, height: source.height, channels: 1, repeating: 0)
        for y in 0..<64 { for x in 0..<source.width { mask[x, y, 0] = 1 } }
        let top = try source.cropped(x: 0, y: 0, width: source.width, height: 64)
        let statsMasked = try reinhardStatistics(source, mask: mask), statsTop = try reinhardStatistics(top)
        #expect(firstMismatch(statsMasked.means, statsTop.means, absolute: 1e-12) == nil)
        let goal = try reinhardStatistics(target)
        let out = try normalizeReinhard(source, target: goal, mask: mask)
        #expect(try out.cropped(x: 0, y: 64, width: source.width, height: 64) == source.cropped(x: 0, y: 64, width: source.width, height: 64))
        #expect(try out.cropped(x: 0, y: 0, width: source.width, height: 64) == normalizeReinhard(top, target: goal))
        // Explicit source statistics are the ones used.
        #expect(try normalizeReinhard(source, target: goal, source: statsTop, mask: mask) == out)
    }

    // MARK: Bad input

    @Test("bad input: gray images, bare glass, one colour, wrong masks and parameters are refused with advice")
    func badInput() throws {
        func code(_ body: () throws -> Void) -> ImagingError? {
            do { try body() } catch let error as ImagingError { return error } catch {}
            return nil
        }
        let gray = Image<UInt8>(width: 8, height: 8, channels: 1, repeating: 120)
        #expect(code { _ = try estimateStainsMacenko(gray) }?.code == .channelCount)
        #expect(code { _ = try normalizeMacenko(gray) }?.code == .channelCount)
        #expect(code { _ = try reinhardStatistics(gray) }?.code == .channelCount)
        #expect(code { _ = try normalizeReinhard(gray, target: try reinhardStatistics(source)) }?.code == .channelCount)

        let glass = Image<UInt8>(width: 16, height: 16, channels: 3, repeating: 255)
        let noTissue = code { _ = try estimateStainsMacenko(glass) }
        #expect(noTissue?.code == .emptyInput)
        #expect(noTissue?.message.contains("bare glass") == true, "\(noTissue?.message ?? "")")
        #expect(code { _ = try normalizeMacenko(glass) }?.code == .emptyInput)

        let oneColour = Image<UInt8>(width: 16, height: 16, channels: 3, repeating: 90)
        let single = code { _ = try estimateStainsMacenko(oneColour) }
        #expect(single?.code == .invalidArgument && single?.message.contains("single colour") == true)

        let small = Image<UInt8>(width: 4, height: 4, channels: 1, repeating: 1)
        #expect(code { _ = try estimateStainsMacenko(source, mask: small) }?.code == .sizeMismatch)
        let empty = Image<UInt8>(width: source.width, height: source.height, channels: 1, repeating: 0)
        #expect(code { _ = try estimateStainsMacenko(source, mask: empty) }?.code == .emptyInput)
        #expect(code { _ = try reinhardStatistics(source, mask: empty) }?.code == .emptyInput)

        #expect(code { _ = try estimateStainsMacenko(source, alpha: 50) }?.code == .invalidArgument)
        #expect(code { _ = try estimateStainsMacenko(source, beta: -1) }?.code == .invalidArgument)
        #expect(code { _ = try estimateStainsMacenko(source, background: 0) }?.code == .invalidArgument)
        #expect(code { _ = try MacenkoEstimate(stains: .qupathHE, maxConcentrations: (0, 1)) }?.code == .invalidArgument)
        #expect(code { _ = try ReinhardStatistics(means: [1, 2], stds: [1, 1]) }?.code == .invalidArgument)
        #expect(code { _ = try ReinhardStatistics(means: [1, 2, 3], stds: [1, -1, 1]) }?.code == .invalidArgument)
    }

    // MARK: Helpers

    @Test("literal: percentiles as NumPy's default linear method")
    func percentiles() {
        var v: [Double] = [3, 1, 2, 10]
        #expect(abs(numpyPercentile(&v, 1) - 1.03) < 1e-12)
        #expect(abs(numpyPercentile(&v, 99) - 9.79) < 1e-12)
        #expect(numpyPercentile(&v, 0) == 1 && numpyPercentile(&v, 100) == 10)
        var pair: [Double] = [2, 1]
        #expect(numpyPercentile(&pair, 37.5) == 1.375)
        var one: [Double] = [5]
        #expect(numpyPercentile(&one, 50) == 5)
        // Larger inputs with many ties agree with sorting.
        var rng = FixedSeedLCG(seed: 7)
        var many = (0..<10_001).map { _ in Double(rng.next() % 97) }
        let sorted = many.sorted()
        #expect(numpyPercentile(&many, 99) == sorted[9900])
        #expect(selectKth(&many, 4321) == sorted[4321])
    }

    @Test("literal: eigenvectors of a symmetric 3×3 matrix")
    func eigen() {
        let (values, vectors) = symmetricEigen3([[2, 1, 0], [1, 2, 0], [0, 0, 5]])
        #expect(firstMismatch(values, [1, 3, 5], absolute: 1e-14) == nil, "\(values)")
        let s = 0.5.squareRoot()
        #expect(abs(abs(dot3(vectors[0], [s, -s, 0])) - 1) < 1e-14)
        #expect(abs(abs(dot3(vectors[1], [s, s, 0])) - 1) < 1e-14)
        #expect(abs(abs(vectors[2][2]) - 1) < 1e-14)
    }
}

/// A fixed-seed linear congruential generator, so the test data never change.
private struct FixedSeedLCG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
}

private extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
