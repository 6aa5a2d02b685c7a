import Foundation

/// `karyon ingest`: uploads every image file of a folder to a study, a few at a time, and can be
/// run again after an interruption.
///
/// Resuming: the study's images are listed first (their SHA-256s) and files whose bytes are
/// already there are skipped; every upload carries an `Idempotency-Key` derived from the study and
/// the file's SHA-256, so a retry after a lost answer never stores an image twice. Candidates are
/// files with an image extension or image magic bytes under any name
/// (``LocalImageFile/isCandidate(_:)``); a candidate whose bytes are not PNG, JPEG or TIFF is
/// rejected without being sent. Memory stays bounded: the folder is walked lazily and each file
/// is hashed and sent in chunks.
public struct Ingest: Sendable {
    public var directory: String
    public var studyID: String
    public var parallel: Int
    public var recursive: Bool

    public init(directory: String, studyID: String, parallel: Int = 4, recursive: Bool = false) {
        self.directory = directory
        self.studyID = studyID
        self.parallel = parallel
        self.recursive = recursive
    }

    /// Counts so far; `files` and `bytes` are the candidates found by the first pass.
    public struct Totals: Sendable, Equatable, Codable {
        public var files = 0
        public var bytes: Int64 = 0
        /// Files that are neither named nor shaped like images.
        public var ignored = 0
        public var done = 0
        public var doneBytes: Int64 = 0
        public var uploaded = 0
        public var uploadedBytes: Int64 = 0
        public var skipped = 0
        public var rejected = 0
        public var failed = 0
        public var retries = 0
    }

    /// How one file ended.
    public enum FileOutcome: Sendable, Equatable {
        case uploaded
        case skipped(String)
        case rejected(String)
        case failed(String)
    }

    public enum Event: Sendable {
        /// The first pass counted the candidates.
        case scanned(Totals)
        /// The study already holds this many images.
        case listed(Int)
        /// A file ended.
        case file(relative: String, outcome: FileOutcome, totals: Totals)
        /// A request is being retried.
        case retry(relative: String, reason: String)
    }

    public struct Summary: Sendable {
        public var totals: Totals
        public var elapsed: TimeInterval
        public var succeeded: Bool { totals.rejected == 0 && totals.failed == 0 }
    }

    /// Runs the whole ingest.
    /// - Throws: ``ClientError``: a missing directory or a malformed study id (`badInput`), a bad
    ///   token (`unauthorized`), no access (`forbidden`), no such study (`notFound`), the server
    ///   unreachable (`connection`, also when many files in a row could not be sent).
    public func run(client: APIClient, onEvent: @escaping @Sendable (Event) -> Void) async throws -> Summary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ClientError(.badInput, "no such directory: \(directory)")
        }
        guard UUID(uuidString: studyID) != nil else { throw ClientError(.badInput, "--study must be a study id (a UUID), got '\(studyID)'") }
        guard (1...64).contains(parallel) else { throw ClientError(.badInput, "--parallel must be 1 to 64, got \(parallel)") }
        let root = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        _ = try await client.call(.GET, "/api/v1/studies/\(studyID)", as: StudyInfo.self)

        var scanned = Totals()
        for entry in FolderWalk(root: root, recursive: recursive) {
            if LocalImageFile.isCandidate(entry.path) {
                scanned.files += 1
                scanned.bytes += Self.size(of: entry.path)
            } else {
                scanned.ignored += 1
            }
        }
        onEvent(.scanned(scanned))
        let known = try await Self.imageDigests(client: client, studyID: studyID)
        onEvent(.listed(known.count))

        let ledger = Ledger(totals: scanned, known: known, giveUpAfter: max(8, 2 * parallel))
        let uploader = ImageUploader(client: client, studyID: studyID)
        let started = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for entry in FolderWalk(root: root, recursive: recursive) where LocalImageFile.isCandidate(entry.path) {
                if running >= parallel {
                    try await group.next()
                    running -= 1
                }
                group.addTask {
                    let (outcome, bytes, sent) = try await Self.process(entry, uploader: uploader, ledger: ledger, onEvent: onEvent)
                    let totals = try await ledger.record(outcome, bytes: bytes, sent: sent)
                    onEvent(.file(relative: entry.relative, outcome: outcome, totals: totals))
                }
                running += 1
            }
            try await group.waitForAll()
        }
        return Summary(totals: await ledger.totals, elapsed: Date().timeIntervalSince(started))
    }

    static func process(_ entry: FolderWalk.Entry, uploader: ImageUploader, ledger: Ledger,
                        onEvent: @escaping @Sendable (Event) -> Void) async throws -> (FileOutcome, Int64, sent: Bool) {
        let file: LocalImageFile
        do {
            file = try LocalImageFile.inspect(entry.path)
        } catch let error as ClientError {
            return (.failed(error.description), 0, false)
        }
        guard file.format != nil, let sha256 = file.sha256 else {
            return (.rejected(file.size == 0 ? "empty file" : "not a PNG, JPEG or TIFF image (by its first bytes)"), file.size, false)
        }
        switch await ledger.claim(sha256) {
        case .known: return (.skipped("already in the study"), file.size, false)
        case .claimedInThisRun: return (.skipped("same bytes as another file of this run"), file.size, false)
        case .new: break
        }
        let outcome = try await uploader.upload(path: file.path, size: file.size, sha256: sha256, name: entry.relative) { reason in
            onEvent(.retry(relative: entry.relative, reason: reason))
            Task { await ledger.retried() }
        }
        switch outcome {
        case .uploaded: return (.uploaded, file.size, true)
        case .duplicate: return (.skipped("already in the study"), file.size, true)
        case .rejected(let message): return (.rejected(message), file.size, true)
        case .failed(let message): return (.failed(message), file.size, true)
        }
    }

    /// The SHA-256 of every image of the study, page by page.
    static func imageDigests(client: APIClient, studyID: String) async throws -> Set<String> {
        var digests = Set<String>()
        var offset = 0
        while true {
            let page = try await client.call(.GET, "/api/v1/studies/\(studyID)/images?limit=200&offset=\(offset)", as: Page<ImageInfo>.self)
            digests.formUnion(page.items.map { $0.sha256.lowercased() })
            offset += page.items.count
            if page.items.isEmpty || offset >= page.total { return digests }
        }
    }

    static func size(of path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// The counts and the digests seen, shared by the upload tasks.
    actor Ledger {
        enum Claim { case new, known, claimedInThisRun }

        private(set) var totals: Totals
        private var known: Set<String>
        private var claimed = Set<String>()
        private var failuresInARow = 0
        private let giveUpAfter: Int

        init(totals: Totals, known: Set<String>, giveUpAfter: Int) {
            self.totals = totals
            self.known = known
            self.giveUpAfter = giveUpAfter
        }

        func claim(_ sha256: String) -> Claim {
            if known.contains(sha256) { return .known }
            return claimed.insert(sha256).inserted ? .new : .claimedInThisRun
        }

        func retried() { totals.retries += 1 }

        /// Counts an ended file; throws when so many uploads in a row failed (`sent`: the file
        /// went to the server, as opposed to a local read error) that the server is evidently
        /// gone (the rest would only fail after their own retries).
        func record(_ outcome: FileOutcome, bytes: Int64, sent: Bool) throws -> Totals {
            totals.done += 1
            totals.doneBytes += bytes
            switch outcome {
            case .uploaded:
                totals.uploaded += 1
                totals.uploadedBytes += bytes
            case .skipped: totals.skipped += 1
            case .rejected: totals.rejected += 1
            case .failed: totals.failed += 1
            }
            if case .failed(let message) = outcome, sent {
                failuresInARow += 1
                if failuresInARow >= giveUpAfter {
                    throw ClientError(.connection, "giving up: \(failuresInARow) files in a row could not be sent; run again to resume",
                                      cause: message)
                }
            } else if sent {
                failuresInARow = 0
            }
            return totals
        }
    }
}
