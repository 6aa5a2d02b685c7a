import Foundation
import KaryonImaging
import KaryonTestSupport
import Testing

/// Runs the real `karyon` binary built beside the test bundle.
struct KaryonProcess {
    static let binary = KaryonBinary.path

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts the binary in the background, its output discarded (for tests that interrupt it).
    static func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs the binary to its end; `environment` is added to the inherited one.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

let fixtures: String = {
    var url = URL(fileURLWithPath: #filePath)
    url.deleteLastPathComponent()
    url.deleteLastPathComponent()
    return url.appendingPathComponent("Fixtures/imaging").path
}()

@Suite("karyon command line")
struct CLITests {
    let temp = TemporaryDirectory("cli")
    var dir: String { temp.path }

    func write(_ name: String, _ bytes: [UInt8]) -> String { temp.write(name, bytes) }

    @Test("analyze prints one JSON object per (image, extractor) with the documented keys")
    func analyzeJSON() throws {
        let image = fixtures + "/ihc-rgb.png"
        let r = try KaryonProcess.run(["analyze", image, fixtures + "/random-gray16.png", "--extractor", "intensity",
                                       "--param", "intensity.brightness=channel-mean", "--jobs", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(first["image"] as? String == image)
        #expect(first["width"] as? Int == 64 && first["height"] as? Int == 48)
        #expect(first["extractor"] as? String == "intensity" && first["version"] as? String == "1.0.0")
        #expect((first["sha256"] as? String)?.count == 64)
        #expect((first["parameters"] as? [String: Any])?["brightness"] as? String == "channel-mean")
        let features = first["features"] as! [String: Double]
        #expect(features.keys.contains("mean_r") && features.keys.contains("brightness"))
        #expect(lines[0].hasPrefix("{\"image\": "))  // documented key order
        let second = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        #expect((second["features"] as? [String: Double])?["mean_gray"] != nil)
    }

    @Test("analyze --format csv: a header and one row per image")
    func analyzeCSV() throws {
        let r = try KaryonProcess.run(["analyze", fixtures + "/ihc-rgb.png", "--extractor", "intensity", "--format", "csv"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("image,sha256,width,height,intensity.mean_r"))
    }

    @Test("analyze runs every texture and colour extractor on one image, with a mask, in one CSV row")
    func allExtractors() throws {
        let r = try KaryonProcess.run([
            "analyze", fixtures + "/ihc-rgb.png", "--mask", fixtures + "/mask-disk.png", "--format", "csv",
            "--extractor", "glcm", "--extractor", "haralick", "--extractor", "lbp", "--extractor", "color",
            "--param", "color.spaces=rgb,hsv,stain", "--param", "lbp.points=16", "--param", "lbp.radius=2",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        let header = lines[0].split(separator: ","), row = lines[1].split(separator: ",")
        #expect(header.count == row.count)
        for column in ["glcm.contrast_d1_a0", "haralick.imc2_d1_range", "lbp.code_17", "color.dab_skewness", "color.hue_hist_15"] {
            #expect(header.contains(Substring(column)), "missing \(column)")
        }
    }

    @Test("analyze with a mask changes the result")
    func mask() throws {
        let plain = try KaryonProcess.run(["analyze", fixtures + "/ihc-rgb.png", "--extractor", "intensity"])
        let masked = try KaryonProcess.run(["analyze", fixtures + "/ihc-rgb.png", "--extractor", "intensity",
                                            "--mask", fixtures + "/mask-disk.png"])
        #expect(plain.status == 0 && masked.status == 0)
        #expect(plain.stdout != masked.stdout)
    }

    /// Each bad input: exit status 1, exactly one line on stderr starting "karyon: error:", nothing on stdout.
    func expectOneLineError(_ arguments: [String], mentioning word: String) throws {
        let r = try KaryonProcess.run(arguments)
        #expect(r.status == 1, "\(arguments): status \(r.status)")
        #expect(r.stdout.isEmpty, "\(arguments): printed \(r.stdout)")
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1 && lines[0].hasPrefix("karyon: error:"), "\(arguments): \(r.stderr)")
        #expect(r.stderr.lowercased().contains(word.lowercased()), "\(arguments): \(r.stderr)")
    }

    @Test("bad input gives a one-line error and a non-zero exit, never a partial result")
    func badInput() throws {
        let good = fixtures + "/ihc-rgb.png"
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))
        let truncated = write("truncated.png", Array(png.prefix(png.count / 2)))
        let text = write("notes.png", Array("not an image\n".utf8))
        try expectOneLineError(["analyze", dir + "/missing.png", "--extractor", "intensity"], mentioning: "no such file")
        try expectOneLineError(["analyze", text, "--extractor", "intensity"], mentioning: "not a PNG")
        try expectOneLineError(["analyze", good, truncated, "--extractor", "intensity"], mentioning: "truncated")
        try expectOneLineError(["analyze", fixtures + "/bomb-100000.png", "--extractor", "intensity"], mentioning: "exceeds")
        try expectOneLineError(["analyze", good, "--extractor", "glcmm"], mentioning: "unknown extractor")
        try expectOneLineError(["analyze", good, "--extractor", "intensity", "--param", "intensity.sigma=2"], mentioning: "no parameter")
        try expectOneLineError(["analyze", good, "--extractor", "intensity", "--param", "intensity.exclude_above=7"], mentioning: "maximum")
        try expectOneLineError(["analyze", good, "--extractor", "intensity", "--param", "intensity.exclude_above=high"], mentioning: "number")
        try expectOneLineError(["analyze", good, "--extractor", "intensity", "--pixel-size=-3"], mentioning: "pixel-size")
        try expectOneLineError(["analyze", good, "--extractor", "glcm", "--param", "glcm.levels=8", "--param", "glcm.quantize=false"],
                               mentioning: "levels")
        try expectOneLineError(["analyze", good, "--extractor", "haralick", "--param", "haralick.distances=near"], mentioning: "integer")
        try expectOneLineError(["analyze", good, "--extractor", "lbp", "--param", "lbp.radius=wide"], mentioning: "number")
        let emptyMask = dir + "/empty-mask.png"
        try ImageCodec.write(.uint8(Image(width: 64, height: 48, channels: 1, repeating: 0)), to: emptyMask)
        try expectOneLineError(["analyze", good, "--extractor", "color", "--mask", emptyMask], mentioning: "mask")
        try expectOneLineError(["info", dir + "/missing.tif"], mentioning: "no such file")
    }

    @Test("--keep-going prints the good images and reports the bad one")
    func keepGoing() throws {
        let text = write("bad.tif", Array("II*\0garbage".utf8))
        let r = try KaryonProcess.run(["analyze", fixtures + "/ihc-rgb.png", text, "--extractor", "intensity", "--keep-going"])
        #expect(r.status == 1)
        #expect(r.stdout.split(separator: "\n").count == 1)
        #expect(r.stderr.contains("bad.tif"))
    }

    @Test("extractors lists schemas as text and JSON")
    func extractors() throws {
        let r = try KaryonProcess.run(["extractors", "--format", "json"])
        #expect(r.status == 0)
        let list = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        let intensity = list.first { $0["id"] as? String == "intensity" }!
        let params = intensity["parameters"] as! [[String: Any]]
        #expect(params.contains { $0["key"] as? String == "exclude_above" && $0["maximum"] as? Double == 1 })
        #expect(try KaryonProcess.run(["extractors"]).stdout.contains("intensity 1.0.0"))
    }

    @Test("info reads the header of PNG, JPEG and multi-page TIFF")
    func info() throws {
        let r = try KaryonProcess.run(["info", fixtures + "/pages3-gray16.tif", "--format", "json"])
        #expect(r.status == 0)
        let h = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(h["format"] as? String == "tiff" && h["pages"] as? Int == 3 && h["bit_depth"] as? Int == 16)
        #expect(try KaryonProcess.run(["info", fixtures + "/ihc.jpg"]).stdout.contains("JPEG 64×48 RGB 8-bit"))
    }

    @Test("synth writes image, labels, CSV and truth; the same seed gives the same bytes")
    func synth() throws {
        let a = try KaryonProcess.run(["synth", "--kind", "ihc", "--seed", "9", "--size", "96x80", "--pixel-size", "0.5", "--out", dir + "/a"])
        let b = try KaryonProcess.run(["synth", "--kind", "ihc", "--seed", "9", "--size", "96x80", "--pixel-size", "0.5", "--out", dir + "/b"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)")
        for name in ["ihc-9.png", "ihc-9-labels.png", "ihc-9-nuclei.csv", "ihc-9-truth.json"] {
            let x = FileManager.default.contents(atPath: dir + "/a/" + name)
            #expect(x != nil && x == FileManager.default.contents(atPath: dir + "/b/" + name), "\(name)")
        }
        let bad = try KaryonProcess.run(["synth", "--kind", "xray", "--out", dir + "/c"])
        #expect(bad.status == 1 && bad.stderr.contains("unknown --kind"))
    }

    @Test("analyze writes objects, GeoJSON, labels and overlay; evaluate compares them with the synthetic truth")
    func objectOutputsAndEvaluate() throws {
        let synth = try KaryonProcess.run(["synth", "--kind", "her2", "--her2-score", "3+", "--size", "256x256", "--seed", "4", "--out", dir + "/h"])
        #expect(synth.status == 0, "\(synth.stderr)")
        let image = dir + "/h/her2-4.png"
        let r = try KaryonProcess.run(["analyze", image, "--extractor", "her2", "--pixel-size", "0.5",
                                       "--objects", dir + "/o.csv", "--geojson", dir + "/o.geojson",
                                       "--labels", dir + "/l.png", "--overlay", dir + "/v.png"])
        #expect(r.status == 0, "\(r.stderr)")
        try r.stdout.write(toFile: dir + "/r.jsonl", atomically: true, encoding: .utf8)
        let labels = try ImageCodec.decode(file: dir + "/l.png")
        #expect(labels.sampleType == .uint16 && labels.width == 256)
        #expect(try ImageCodec.decode(file: dir + "/v.png").channels == 3)
        let csv = try String(contentsOfFile: dir + "/o.csv", encoding: .utf8)
        #expect(csv.hasPrefix("id,") && csv.contains("membrane_completeness") && csv.contains(",class"))
        let e = try KaryonProcess.run(["evaluate", "--truth-labels", dir + "/h/her2-4-labels.png", "--labels", dir + "/l.png",
                                       "--truth", dir + "/h/her2-4-truth.json", "--results", dir + "/r.jsonl",
                                       "--objects", dir + "/o.csv", "--truth-nuclei", dir + "/h/her2-4-nuclei.csv"])
        #expect(e.status == 0, "\(e.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        #expect((report["f1"] as! Double) >= 0.9)
        #expect(report["her2_score_exact"] as? Bool == true)
        #expect((report["class_agreement"] as! Double) > 0.7)
        // Object outputs need a nucleus-based extractor; nothing is written otherwise.
        let bad = try KaryonProcess.run(["analyze", image, "--extractor", "intensity", "--objects", dir + "/x.csv"])
        #expect(bad.status == 1 && bad.stderr.contains("nucleus-based") && !FileManager.default.fileExists(atPath: dir + "/x.csv"))
        // An absurd resolution is refused with a clear message.
        let absurd = try KaryonProcess.run(["analyze", image, "--extractor", "nuclei", "--pixel-size", "500"])
        #expect(absurd.status == 1 && absurd.stderr.contains("pixel size") && absurd.stdout.isEmpty)
    }
}
