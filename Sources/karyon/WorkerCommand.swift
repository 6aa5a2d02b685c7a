import ArgumentParser
import Foundation
import KaryonPipeline
import KaryonServer

/// `karyon worker`: analysis worker pools against the configured database, one pool per
/// extractor, each autoscaling between `--min` and `--max` job slots.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run analysis workers: claim jobs from the database queue, run the extractors, store results.",
        discussion: """
            Any number of worker processes may run against one database: on this machine with SQLite, on any machine with \
            PostgreSQL (KARYON_DATABASE_URL), given the data directory's blob store and key file (KARYON_KEY_FILE). \
            SIGTERM stops claiming, lets running jobs finish within --grace seconds and releases the rest. \
            KARYON_JOB_LEASE_SECONDS (default 60) and KARYON_WORKER_POLL_MS (default 500) tune leases and idle polling.
            """)

    @ArgumentParser.Option(help: "Comma-separated extractor ids (default: every built-in extractor).")
    var extractors: String?

    @ArgumentParser.Option(help: "Fixed job slots per extractor (sets --min and --max).")
    var concurrency: Int?

    @ArgumentParser.Option(help: "Fewest job slots per extractor (0 lets an idle pool scale to zero).")
    var min: Int = 1

    @ArgumentParser.Option(help: "Most job slots per extractor (default: twice the number of cores, so that cores stay busy while jobs wait on the database and disk).")
    var max: Int?

    @ArgumentParser.Option(help: "Seconds running jobs get to finish after SIGTERM before they are released.")
    var grace: Double = 30

    @OptionGroup var options: ServerOptions

    func run() async throws {
        var worker = try Self.options(extractors: extractors, concurrency: concurrency, min: min, max: max, grace: grace)
        try worker.apply(environment: ProcessInfo.processInfo.environment)
        try await Runtime.work(try options.configuration(), options: worker)
    }

    /// Checked worker options from the command line.
    static func options(extractors: String?, concurrency: Int?, min: Int, max: Int?, grace: Double) throws -> WorkerOptions {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var lower = min, upper = max ?? Swift.max(cores * 2, min)
        if let concurrency {
            guard (1...256).contains(concurrency) else { throw CLIError("--concurrency must be 1 to 256") }
            lower = concurrency
            upper = concurrency
        }
        guard (0...256).contains(lower), (1...256).contains(upper), lower <= upper else {
            throw CLIError("need 0 ≤ --min ≤ --max ≤ 256 and --max ≥ 1 (got \(lower) and \(upper))")
        }
        guard grace.isFinite, (0...3600).contains(grace) else { throw CLIError("--grace must be 0 to 3600 seconds") }
        var ids: [String]?
        if let extractors {
            let list = extractors.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !list.isEmpty else { throw CLIError("--extractors needs at least one extractor id") }
            ids = Array(NSOrderedSet(array: list)) as? [String]
        }
        return WorkerOptions(extractors: ids, scaling: Scaling(min: lower, max: upper), grace: grace)
    }
}
