import ArgumentParser
import Foundation
import KaryonStore

/// `karyon keys rotate|status`: the key-encryption keys that wrap every blob's data key.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Rotate or inspect the key-encryption keys of the encrypted blob store.",
        subcommands: [Rotate.self, Status.self])

    /// Where the data and the key file are: options, else `KARYON_DATA_DIR` / `KARYON_KEY_FILE`, else defaults.
    struct Location: ParsableArguments {
        @Option(help: "Data directory; blobs live in <data-dir>/blobs. Default: $KARYON_DATA_DIR, else ./karyon-data.")
        var dataDir: String?

        @Option(help: "Key file. Default: $KARYON_KEY_FILE, else <data-dir>/keys/kek.json.")
        var keyFile: String?

        var configuration: BlobStoreConfiguration {
            BlobStoreConfiguration(environment: ProcessInfo.processInfo.environment, dataDirectory: dataDir, keyFile: keyFile)
        }

        /// The store, with a key file that must already exist (these commands never create a key).
        func openStore() throws -> EncryptedBlobStore {
            let c = configuration
            return try EncryptedBlobStore(directory: c.blobDirectory, keyRing: KeyRing.load(from: c.keyFile))
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-wrap every blob's data key under a new key-encryption key, then drop the old one.",
            discussion: """
                Stop the server and workers first: the key file must not be in use by another process. \
                Safe to interrupt: every blob stays readable, and running it again finishes the rotation \
                in progress instead of starting a new one. Blob contents are never re-encrypted.
                """)

        @OptionGroup var location: Location

        @Option(help: "Re-wrap at most this many data keys, then stop (run again to continue).")
        var limit: Int?

        func run() throws {
            if let limit, limit < 0 { throw CLIError("--limit must be 0 or more, got \(limit)") }
            let store = try location.openStore()
            let retiring = store.keyRing.isRotationInProgress ? store.keyRing.retiringKeyIDs : [store.keyRing.activeKeyID]
            let report = try store.rotateKeys(limit: limit)
            emit(report.startedNewRotation
                ? "started a rotation: new active key \(report.activeKeyID), retiring \(retiring.joined(separator: ", "))\n"
                : "resumed the rotation in progress: active key \(report.activeKeyID), retiring \(retiring.joined(separator: ", "))\n")
            emit("re-wrapped \(report.rewrapped) data key(s); \(report.alreadyCurrent) already under \(report.activeKeyID)\n")
            if report.finished {
                emit("rotation finished: dropped \(report.droppedKeyIDs.joined(separator: ", ")) from \(location.configuration.keyFile)\n")
            } else if !report.failed.isEmpty {
                let ids = report.failed.prefix(10).map { $0.uuidString.lowercased() }.joined(separator: ", ")
                throw CLIError("rotation not finished: \(report.failed.count) blob(s) have damaged .key files (\(ids)"
                    + "\(report.failed.count > 10 ? ", …" : "")); restore or delete them, then run `karyon keys rotate` again")
            } else {
                emit("rotation not finished (stopped at --limit); run `karyon keys rotate` again to continue\n")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the active key, whether a rotation is in progress, and how many blobs each key wraps.")

        @OptionGroup var location: Location

        func run() throws {
            let c = location.configuration
            if !FileManager.default.fileExists(atPath: c.keyFile), !FileManager.default.fileExists(atPath: c.blobDirectory) {
                emit("key file: \(c.keyFile) (not created yet: the first stored blob creates it)\nblobs: 0\n")
                return
            }
            let store = try location.openStore()
            let ring = store.keyRing
            let usage = try store.keyUsage()
            emit("key file: \(c.keyFile)\n")
            emit("active key: \(ring.activeKeyID)\n")
            emit("rotation in progress: "
                + (ring.isRotationInProgress ? "yes (retiring \(ring.retiringKeyIDs.joined(separator: ", ")); run `karyon keys rotate` to finish)" : "no")
                + "\n")
            emit("blobs: \(usage.byKeyID.values.reduce(0, +))\n")
            for kid in usage.byKeyID.keys.sorted() {
                let note = kid == ring.activeKeyID ? " (active)" : ring.keyIDs.contains(kid) ? " (retiring)" : " (not in the key file!)"
                emit("  \(kid): \(usage.byKeyID[kid]!)\(note)\n")
            }
            if !usage.damaged.isEmpty { emit("damaged key files: \(usage.damaged.count)\n") }
        }
    }
}
