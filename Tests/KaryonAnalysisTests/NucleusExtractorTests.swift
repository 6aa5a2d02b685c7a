import Foundation
import KaryonAnalysis
import KaryonImaging
import Testing

@Suite("Nuclei, Ki-67 and HER2 extractors")
struct NucleusExtractorTests {
    func field(_ kind: SyntheticFieldSpec.Kind, seed: UInt64, size: Int = 256, density: Double = 2500,
               her2: String? = nil, positive: Double = 0.4) throws -> SyntheticField {
        var s = SyntheticFieldSpec()
        s.kind = kind
        s.seed = seed
        s.width = size
        s.height = size
        s.densityPerMM2 = density
        s.positiveFraction = positive
        s.her2Score = her2
        return try FieldSynthesizer.render(s)
    }

    func run(_ id: String, _ image: AnyImage, pixelSize: Double? = 0.5, mask: Image<UInt8>? = nil,
             _ params: [String: String] = [:]) throws -> ExtractionResult {
        try ExtractorRegistry.standard.configure(id, text: params)
            .run(ExtractionInput(image: image, mask: mask, pixelSizeMicrons: pixelSize), imageSHA256: "")
    }

    func truth(_ f: SyntheticField) throws -> LabelImage {
        try LabelImage(width: f.labels.width, height: f.labels.height, labels: f.labels.pixels.map { Int32($0) })
    }

    @Test("nuclei finds the synthetic nuclei (F1 ≥ 0.9 at IoU 0.5) and reports count and density consistently")
    func nucleiDetection() throws {
        let f = try field(.ihc, seed: 21)
        let r = try run("nuclei", .uint8(f.image))
        let objects = try #require(r.objects)
        let eval = try InstanceEvaluation(truth: try truth(f), predicted: objects.nuclei)
        #expect(eval.f1 >= 0.9, "F1 \(eval.f1)")
        #expect(r.features["count"] == .integer(objects.count))
        #expect(r.features["units"] == .text("um"))
        let area = 256.0 * 256 * 0.25
        #expect(abs(r.features["density"]!.doubleValue! - Double(objects.count) / area * 1e6) < 1e-9)
        // Cells contain their nuclei; the cytoplasm area is the difference.
        let cells = try #require(objects.cells)
        for i in 0..<cells.labels.count where objects.nuclei.labels[i] != 0 {
            #expect(cells.labels[i] == objects.nuclei.labels[i])
        }
        let names = objects.columns.map(\.name)
        let nucleus = try #require(names.firstIndex(of: "nucleus_area")), cell = try #require(names.firstIndex(of: "cell_area"))
        let cytoplasm = try #require(names.firstIndex(of: "cytoplasm_area"))
        for row in objects.rows {
            let n = row[nucleus].doubleValue!, c = row[cell].doubleValue!, y = row[cytoplasm].doubleValue!
            #expect(abs(c - n - y) < 1e-9 && c >= n)
        }
    }

    @Test("ki67 reproduces the designed index within 2 points and its summary scores follow their definitions")
    func ki67Index() throws {
        let f = try field(.ihc, seed: 22, size: 384)
        let r = try run("ki67", .uint8(f.image), ["single_threshold": "false"])
        let index = r.features["positive_percent"]!.doubleValue!
        #expect(abs(index - f.positivePercent) <= 2, "index \(index) vs truth \(f.positivePercent)")
        let cells = Double(r.features["cells"]!.doubleValue!)
        let n1 = r.features["n_1plus"]!.doubleValue!, n2 = r.features["n_2plus"]!.doubleValue!, n3 = r.features["n_3plus"]!.doubleValue!
        #expect(r.features["positive"]!.doubleValue! == n1 + n2 + n3)
        #expect(abs(r.features["h_score"]!.doubleValue! - 100 * (n1 + 2 * n2 + 3 * n3) / cells) < 1e-9)
        #expect(r.features["low_count"] == .integer(1))
        #expect(r.features["caveat"]!.description.contains("500"))
        let classes = try #require(r.objects?.classes)
        #expect(Set(classes).isSubset(of: ["negative", "1+", "2+", "3+"]))
    }

    @Test("strongly DAB-positive nuclei are still found: hematoxylin+dab detection finds at least what hematoxylin alone finds")
    func darkNucleiFound() throws {
        var s = SyntheticFieldSpec()
        s.seed = 23; s.width = 256; s.height = 256; s.positiveFraction = 1; s.hematoxylinScale = 0.3
        let f = try FieldSynthesizer.render(s)
        let both = try run("ki67", .uint8(f.image))
        let hOnly = try run("ki67", .uint8(f.image), ["detection": "hematoxylin"])
        let t = try truth(f)
        let recallBoth = try InstanceEvaluation(truth: t, predicted: both.objects!.nuclei).recall
        let recallH = try InstanceEvaluation(truth: t, predicted: hOnly.objects!.nuclei).recall
        #expect(recallBoth >= 0.9, "recall \(recallBoth)")
        #expect(recallBoth > recallH, "hematoxylin only \(recallH), with DAB \(recallBoth)")
    }

    @Test("her2 gives the designed ASCO/CAP slide score", arguments: ["0", "1+", "2+", "3+"])
    func her2Score(_ score: String) throws {
        let f = try field(.her2, seed: 31, size: 384, her2: score)
        #expect(f.her2Score == score)
        let r = try run("her2", .uint8(f.image))
        #expect(r.features["score"] == .text(score))
        let total = ["pct_0", "pct_1plus", "pct_2plus", "pct_3plus"].map { r.features[$0]!.doubleValue! }.reduce(0, +)
        #expect(abs(total - 100) < 1e-9)
    }

    @Test("the ASCO/CAP rules at their 10% cut-offs")
    func her2Rules() {
        #expect(HER2Extractor.slideScore(percentages: [89, 0, 0, 11]) == "3+")
        #expect(HER2Extractor.slideScore(percentages: [80, 0, 10, 10]) == "2+")
        #expect(HER2Extractor.slideScore(percentages: [90, 0, 5, 5]) == "0")
        #expect(HER2Extractor.slideScore(percentages: [89, 11, 0, 0]) == "1+")
        #expect(HER2Extractor.slideScore(percentages: [90, 10, 0, 0]) == "0")
    }

    @Test("fluorescence mode finds bright nuclei on a dark background")
    func fluorescence() throws {
        let f = try field(.fluorescence, seed: 24)
        #expect(f.image.channels == 1)
        let r = try run("nuclei", .uint8(f.image), ["mode": "fluorescence"])
        let eval = try InstanceEvaluation(truth: try truth(f), predicted: r.objects!.nuclei)
        #expect(eval.f1 >= 0.9, "F1 \(eval.f1)")
        #expect(r.objects!.columns.contains { $0.name == "nucleus_gray_mean" })
    }

    @Test("a mask keeps only nuclei whose centroid lies inside it")
    func mask() throws {
        let f = try field(.ihc, seed: 25)
        let all = try run("nuclei", .uint8(f.image))
        let left = try Image(width: 256, height: 256, channels: 1, pixels: (0..<(256 * 256)).map { UInt8($0 % 256 < 128 ? 1 : 0) })
        let masked = try run("nuclei", .uint8(f.image), mask: left)
        let count = masked.objects!.count
        #expect(count > 0 && count < all.objects!.count)
        let x = masked.objects!.columns.firstIndex { $0.name == "x" }!
        #expect(masked.objects!.rows.allSatisfy { $0[x].doubleValue! < 128 })
        #expect(masked.features["analyzed_area"]!.doubleValue! == 128 * 256 * 0.25)
    }

    @Test("bad input: gray to H-DAB, no nuclei, all nuclei, absurd pixel sizes, stains without DAB")
    func badInput() throws {
        let gray = Image<UInt8>(width: 64, height: 64, channels: 1, repeating: 200)
        #expect { try run("ki67", .uint8(gray)) } throws: { ($0 as? ExtractorError)?.message.contains("RGB") == true }
        // Bare glass: a correct empty result.
        let white = Image<UInt8>(width: 128, height: 128, channels: 3, repeating: 245)
        let empty = try run("ki67", .uint8(white))
        #expect(empty.features["cells"] == .integer(0) && empty.features["positive_percent"] == .number(0))
        #expect(empty.objects!.count == 0)
        let her2Empty = try run("her2", .uint8(white))
        #expect(her2Empty.features["score"] == .text("0"))
        // All nuclei: a uniformly hematoxylin-dark field has no nucleus-shaped object.
        let dark = try Image(width: 128, height: 128, channels: 3, pixels: [UInt8](repeating: 0, count: 128 * 128 * 3).enumerated().map { i, _ in
            [UInt8(60), 50, 120][i % 3]
        })
        let all = try run("nuclei", .uint8(dark))
        #expect(all.features["count"] == .integer(0))
        // Pixel sizes that make the parameters meaningless.
        #expect { try run("nuclei", .uint8(white), pixelSize: 264.6) } throws: {
            ($0 as? ExtractorError)?.message.contains("pixel size") == true
        }
        #expect { try run("nuclei", .uint8(white), pixelSize: 0.001) } throws: {
            ($0 as? ExtractorError)?.message.contains("pixel size") == true
        }
        #expect { try run("ki67", .uint8(white), ["stains": "h-e"]) } throws: { ($0 as? ExtractorError)?.code == .invalidParameter }
        #expect { try run("nuclei", .uint8(white), ["min_area": "50", "max_area": "20"]) } throws: {
            ($0 as? ExtractorError)?.code == .invalidParameter
        }
        #expect { try run("her2", .uint8(white), ["cell_expansion": "0"]) } throws: { ($0 as? ExtractorError)?.code == .invalidParameter }
    }

    @Test("without a pixel size every size is in pixels")
    func pixelUnits() throws {
        let f = try field(.ihc, seed: 26)
        let r = try run("nuclei", .uint8(f.image), pixelSize: nil,
                        ["background_radius": "16", "sigma": "3", "min_area": "40", "max_area": "1600", "cell_expansion": "10", "split_depth": "1.5"])
        let micron = try run("nuclei", .uint8(f.image))
        #expect(r.features["units"] == .text("px"))
        #expect(r.features["count"] == micron.features["count"])
        let area = r.features["nucleus_area_mean"]!.doubleValue!, areaUm = micron.features["nucleus_area_mean"]!.doubleValue!
        #expect(abs(area * 0.25 - areaUm) < 1e-9 * area)
    }

    @Test("object exports: CSV rows, QuPath GeoJSON, overlay")
    func exports() throws {
        let f = try field(.ihc, seed: 27, size: 128)
        let r = try run("ki67", .uint8(f.image))
        let objects = try #require(r.objects)
        #expect(objects.count > 3)
        let lines = objects.csv.split(separator: "\n")
        #expect(lines.count == objects.count + 1)
        #expect(lines[0].hasPrefix("id,x [px],y [px],x_um [µm]"))
        let json = try JSONSerialization.jsonObject(with: Data(objects.geoJSON().utf8)) as! [String: Any]
        #expect(json["type"] as? String == "FeatureCollection")
        let features = json["features"] as! [[String: Any]]
        #expect(features.count == objects.count)
        let first = features[0]
        let properties = first["properties"] as! [String: Any]
        #expect(properties["objectType"] as? String == "cell")
        #expect((properties["classification"] as? [String: Any])?["name"] != nil)
        #expect((properties["measurements"] as? [String: Any])?["nucleus_area"] != nil)
        // Every measurement reads back as the number in the table. (The text is Swift's shortest
        // round-trip form; Foundation's JSON parser on Linux may miss the last few bits.)
        for (k, feature) in features.enumerated() {
            let measurements = (feature["properties"] as? [String: Any])?["measurements"] as? [String: Any] ?? [:]
            for (column, value) in zip(objects.columns, objects.rows[k]) where column.name != "id" && column.name != "class" {
                guard let expected = value.doubleValue, expected.isFinite else { continue }
                let read = (measurements[column.name] as? NSNumber)?.doubleValue ?? .nan
                #expect(abs(read - expected) <= 1e-13 * max(1, abs(expected)), "object \(k + 1) \(column.name): \(read) for \(expected)")
            }
        }
        let ring = ((first["nucleusGeometry"] as! [String: Any])["coordinates"] as! [[[Double]]])[0]
        #expect(ring.first == ring.last && ring.count >= 5)
        let overlay = try objects.overlay(on: .uint8(f.image))
        #expect(overlay.width == 128 && overlay.channels == 3 && overlay != f.image)
    }

    @Test("a table restored from its labels and CSV gives the extractor's GeoJSON byte for byte (nuclei with cells, ki67, her2, nuclei without cells, fluorescence)",
          arguments: [("nuclei", SyntheticFieldSpec.Kind.ihc, [String: String]()), ("ki67", .ihc, [:]), ("her2", .her2, [:]),
                      ("nuclei", .ihc, ["cell_expansion": "0"]), ("nuclei", .fluorescence, ["mode": "fluorescence"])])
    func restoredGeoJSON(extractor: String, kind: SyntheticFieldSpec.Kind, params: [String: String]) throws {
        let f = try field(kind, seed: 31, size: 192, her2: kind == .her2 ? "2+" : nil)
        let objects = try #require(try run(extractor, .uint8(f.image), params).objects)
        #expect(objects.count > 3)
        let restored = try ObjectTable(restoringNuclei: objects.nuclei, cells: objects.cells, csv: objects.csv, pixelSizeMicrons: nil)
        #expect(restored.count == objects.count)
        #expect(restored.classes == objects.classes)
        #expect(restored.columns.map(\.name) == objects.columns.map(\.name))
        #expect(restored.columns.map(\.unit) == objects.columns.map(\.unit))
        #expect(restored.csv == objects.csv)
        let same = restored.geoJSONBytes() == objects.geoJSONBytes()
        #expect(same, "the restored GeoJSON differs")
    }

    @Test("restoring refuses a CSV that does not match the labels: row count, ids, ragged rows, bad quoting, no header")
    func restoreRefusesMismatches() throws {
        let labels = try LabelImage(width: 3, height: 1, labels: [1, 0, 2])
        let good = "id,area [px²],class\n1,4,\"a,\"\"b\"\"\"\n2,0.5,\"x\ny\"\n"
        let table = try ObjectTable(restoringNuclei: labels, cells: nil, csv: good, pixelSizeMicrons: nil)
        #expect(table.classes == ["a,\"b\"", "x\ny"])
        #expect(table.rows[1][1] == .number(0.5))
        #expect(table.columns[1].unit == "px²" && table.columns[1].name == "area")
        #expect(table.csv == good)
        for bad in ["", "id,area\n1,4\n", "id,area\n1,4\n3,5\n", "id,area\n1,4\n2\n", "id,area\n1,4\n2,\"5\n",
                    "id,area\n1,4\n2,5\"x\n", "area\n4\n5\n", "id,area\n1,4\n2,5\n3,6\n"] {
            #expect(throws: ExtractorError.self, "\(bad.debugDescription)") {
                try ObjectTable(restoringNuclei: labels, cells: nil, csv: bad, pixelSizeMicrons: nil)
            }
        }
        let otherSize = try LabelImage(width: 1, height: 3, labels: [1, 0, 2])
        #expect(throws: ExtractorError.self) { try ObjectTable(restoringNuclei: labels, cells: otherSize, csv: good, pixelSizeMicrons: nil) }
    }
}

@Suite("Instance evaluation")
struct InstanceEvaluationTests {
    func labels(_ rows: [[Int32]]) throws -> LabelImage {
        try LabelImage(width: rows[0].count, height: rows.count, labels: rows.flatMap { $0 })
    }

    @Test("instance evaluation: matches at IoU ≥ 0.5, precision, recall, F1 and AJI on a literal example")
    func evaluation() throws {
        let truth = try labels([
            [1, 1, 0, 0, 2, 2],
            [1, 1, 0, 0, 2, 2],
        ])
        let predicted = try labels([
            [1, 1, 0, 0, 0, 3],
            [1, 0, 0, 4, 0, 3],
        ])
        let e = try InstanceEvaluation(truth: truth, predicted: predicted)
        // Object 1: IoU 3/4 (match); object 2: IoU 2/4 with label 3 (match at exactly 0.5); label 4 is spurious.
        #expect(e.truePositives == 2 && e.falsePositives == 1 && e.falseNegatives == 0)
        #expect(abs(e.precision - 2.0 / 3) < 1e-12 && e.recall == 1)
        #expect(abs(e.f1 - 0.8) < 1e-12)
        // AJI = (3 + 2) / (4 + 4 + 1) — the unpaired label 4 adds its area to the union.
        #expect(abs(e.aggregatedJaccard - 5.0 / 9) < 1e-12)
        let perfect = try InstanceEvaluation(truth: truth, predicted: truth)
        #expect(perfect.f1 == 1 && perfect.aggregatedJaccard == 1)
        let none = try InstanceEvaluation(truth: truth, predicted: try labels([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]))
        #expect(none.f1 == 0 && none.recall == 0 && none.aggregatedJaccard == 0)
    }
}
