import ArgumentParser
import CVipsShim
import Foundation
import KaryonAnalysis
import KaryonClient
import KaryonImaging
import KaryonServer
import KaryonStore

/// The `karyon` program: every Karyon command in one binary.
@main
struct Karyon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "karyon",
        abstract: "Karyon: biomedical image analysis and content-based image retrieval.",
        subcommands: [
            AnalyzeCommand.self, ExtractorsCommand.self, InfoCommand.self, SynthCommand.self, EvaluateCommand.self, DemoCommand.self,
            UpCommand.self, ServeCommand.self, WorkerCommand.self, IngestCommand.self, LoadTestCommand.self, MigrateCommand.self, UserCommand.self,
            KeysCommand.self,
        ])

    /// Parses, runs, and reports Karyon's own errors as one line on stderr with exit status 1.
    static func main() async {
        // Before any code built for x86-64-v3 runs (see Package.swift).
        #if arch(x86_64)
        if kv_cpu_has_x86_64_v3() == 0 {
            fail("this processor lacks AVX2/FMA/BMI2 (x86-64-v3), which this build of karyon's image code uses; "
                + "build on it with `-march=x86-64` in Package.swift's vectorISA")
        }
        #endif
        // Before any other thread allocates (see Allocator): every command keeps image buffers
        // mapped and shares one malloc arena.
        Allocator.keepImageBuffers()
        do {
            var command = try parseAsRoot()
            if command is ServeCommand || command is UpCommand || command is WorkerCommand {
                await MainActor.run { _ = Runtime.runConcurrencyOnEventLoops() }
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ImageIOError {
            fail(error.description)
        } catch let error as ExtractorError {
            fail(error.description)
        } catch let error as ImagingError {
            fail(error.description)
        } catch let error as StoreError {
            fail(error.description)
        } catch let error as ClientError {
            fail(error.description)
        } catch let error as CLIError {
            fail(error.message)
        } catch let error as ConfigurationError {
            fail(error.message)
        } catch {
            exit(withError: error)
        }
    }

    static func fail(_ message: String) -> Never {
        let line = message.replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("karyon: error: \(line)\n".utf8))
        Foundation.exit(1)
    }
}

/// A usage problem found after parsing (e.g. a malformed `--param`).
struct CLIError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Writes to standard output without buffering surprises when piped.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
