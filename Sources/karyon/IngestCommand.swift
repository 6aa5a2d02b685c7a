import ArgumentParser
import Foundation
import KaryonClient

/// `karyon ingest`: upload a folder of images to a study, resumably.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Upload every image file of a folder to a study, in parallel, resuming where an earlier run stopped.",
        discussion: """
            Image files are PNG, JPEG and TIFF, recognised by their first bytes (a file named .png that is not one is \
            rejected; an image under another name is sent). Files whose bytes the study already has are skipped, and each \
            upload carries an Idempotency-Key made from the study and the file's SHA-256, so running again after an \
            interruption never stores an image twice. Throttling (429/503) and lost connections are retried with backoff; \
            a file the server refuses is reported and counted. Exits 1 when a file was rejected or could not be sent.
            """)

    @Argument(help: "The folder with the images.")
    var directory: String

    @Option(help: "The study's id.")
    var study: String

    @OptionGroup var connection: ClientOptions

    @Option(help: "Uploads in flight at once (the server allows 4 per user by default).")
    var parallel = 4

    @Flag(help: "Include the images in subfolders too.")
    var recursive = false

    func run() async throws {
        let client = try connection.client()
        let ingest = Ingest(directory: directory, studyID: study, parallel: parallel, recursive: recursive)
        let progress = ProgressLine()
        let started = Date()
        let directory = directory
        let summary = try await ingest.run(client: client) { event in
            switch event {
            case .scanned(let totals):
                progress.note("ingest: \(totals.files) image files (\(byteText(totals.bytes))) in \(directory)"
                              + (totals.ignored > 0 ? "; \(totals.ignored) other files ignored" : ""))
            case .listed(let count):
                progress.note("ingest: the study holds \(count) images; files with the same bytes are skipped")
            case .file(let relative, let outcome, let totals):
                switch outcome {
                case .rejected(let why): progress.note("ingest: rejected \(relative): \(why)")
                case .failed(let why): progress.note("ingest: failed \(relative): \(why)")
                case .uploaded, .skipped: break
                }
                progress.update(Self.progressText(totals, since: started), force: totals.done == totals.files)
            case .retry:
                break
            }
        }
        progress.finish()
        let t = summary.totals
        let seconds = max(summary.elapsed, 0.001)
        emit("ingest: \(t.files) files: uploaded \(t.uploaded), skipped \(t.skipped), rejected \(t.rejected), failed \(t.failed); "
             + "\(byteText(t.uploadedBytes)) in \(String(format: "%.1f", summary.elapsed)) s "
             + "(\(String(format: "%.1f", Double(t.uploaded) / seconds)) files/s, \(byteText(Int64(Double(t.uploadedBytes) / seconds)))/s)"
             + (t.retries > 0 ? ", \(t.retries) retries" : "") + "\n")
        if !summary.succeeded { throw ExitCode(1) }
    }

    static func progressText(_ t: Ingest.Totals, since started: Date) -> String {
        let percent = t.files > 0 ? t.done * 100 / t.files : 100
        let rate = Double(t.done) / max(Date().timeIntervalSince(started), 0.001)
        return "ingest: \(t.done)/\(t.files) files (\(percent)%), \(byteText(t.doneBytes))/\(byteText(t.bytes)) · uploaded \(t.uploaded) · "
            + "skipped \(t.skipped) · rejected \(t.rejected) · failed \(t.failed) · \(String(format: "%.1f", rate)) files/s"
    }
}
