import ArgumentParser
import Foundation
import KaryonServer
import KaryonStore

/// Options shared by the commands that run or touch the server's data.
struct ServerOptions: ParsableArguments {
    @ArgumentParser.Option(help: "Address to listen on (default: $KARYON_HOST or 127.0.0.1).")
    var host: String?

    @ArgumentParser.Option(help: "Port to listen on (default: $KARYON_PORT or 8080).")
    var port: Int?

    @ArgumentParser.Option(name: .customLong("data-dir"), help: "Data directory (default: $KARYON_DATA_DIR or ./karyon-data).")
    var dataDir: String?

    /// The configuration from the environment, with command-line options taking precedence.
    func configuration() throws -> ServerConfiguration {
        var environment = ProcessInfo.processInfo.environment
        if let dataDir { environment["KARYON_DATA_DIR"] = dataDir }
        if let host { environment["KARYON_HOST"] = host }
        if let port {
            guard (1...65535).contains(port) else { throw CLIError("--port must be 1 to 65535") }
            environment["KARYON_PORT"] = String(port)
        }
        do {
            return try ServerConfiguration(environment: environment)
        } catch let error as ConfigurationError {
            throw CLIError(error.message)
        }
    }
}

/// `karyon serve`: the HTTP API alone.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the HTTP API (records, uploads, results) on the configured database.")

    @OptionGroup var options: ServerOptions

    func run() async throws {
        let config = try options.configuration()
        try await Runtime.serve(config)
    }
}

/// `karyon up`: the whole platform on this machine — the API and (when configured) the workers.
/// On a platform without accounts it creates an administrator with a random password written to
/// a file readable only by the owner, and says how to sign in.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Run the Karyon platform: the API server and a supervised worker process per extractor.")

    @OptionGroup var options: ServerOptions

    @ArgumentParser.Option(name: .customLong("worker-min"), help: "Fewest job slots per extractor.")
    var workerMin = 1

    @ArgumentParser.Option(name: .customLong("worker-max"), help: "Most job slots per extractor (default: twice the number of cores).")
    var workerMax: Int?

    @ArgumentParser.Option(name: .customLong("worker-grace"), help: "Seconds running jobs get to finish at shutdown.")
    var workerGrace: Double = 30

    @Flag(name: .customLong("in-process-workers"), help: "Run the workers inside the server process instead of supervised worker processes.")
    var inProcessWorkers = false

    func run() async throws {
        let config = try options.configuration()
        var worker = try WorkerCommand.options(extractors: nil, concurrency: nil, min: workerMin, max: workerMax, grace: workerGrace)
        try worker.apply(environment: ProcessInfo.processInfo.environment)
        let mode: WorkerMode = inProcessWorkers ? .inProcess(worker.scaling) : .processes(worker.scaling, grace: worker.grace)
        var firstRun: (email: String, passwordFile: String)?
        if try await Runtime.userCount(config) == 0 {
            let email = "admin@karyon.local"
            let password = Self.randomPassword()
            let file = (config.dataDirectory as NSString).appendingPathComponent("initial-admin-password")
            try Self.writePrivate(password + "\n", to: file)
            try await Runtime.createUser(config, email: email, name: "Administrator", password: password, admin: true)
            firstRun = (email, file)
        }
        let created = firstRun
        let url = "http://\(config.host.contains(":") ? "[\(config.host)]" : config.host):\(config.port)"
        try await Runtime.serve(config, workers: mode) { _ in
            var text = "\nKaryon is up at \(url)  (API under \(url)/api/v1, OpenAPI at \(url)/openapi.json)\n"
            text += "Data: \(config.dataDirectory) (\(config.databaseURL == nil ? "SQLite" : "PostgreSQL"), encrypted blobs)\n"
            if let firstRun = created {
                text += "First run: created the administrator \(firstRun.email); the password is in \(firstRun.passwordFile) (mode 0600).\n"
            }
            text += "Sign in:  curl -s \(url)/api/v1/auth/login -H 'Content-Type: application/json' -d '{\"email\":\"…\",\"password\":\"…\"}'\n"
            text += "More accounts: karyon user create --email E --password-file F [--admin]   Stop: Ctrl-C\n\n"
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    static func randomPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }

    static func writePrivate(_ text: String, to path: String) throws {
        try DurableFile.makeDirectory((path as NSString).deletingLastPathComponent, mode: 0o700)
        try DurableFile.replace(path, with: Array(text.utf8), mode: 0o600)
    }
}

/// `karyon migrate`: apply database migrations and exit.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply pending database migrations and exit.")

    @OptionGroup var options: ServerOptions

    func run() async throws {
        try await Runtime.migrate(try options.configuration())
        emit("migrations applied\n")
    }
}

/// `karyon user create`: create an account (the first administrator, typically).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage accounts.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create an account.")

        @ArgumentParser.Option(help: "E-mail address (the login).")
        var email: String

        @ArgumentParser.Option(name: .customLong("password-file"), help: "File whose first line is the password ('-' reads standard input).")
        var passwordFile: String

        @ArgumentParser.Option(help: "Display name (default: the e-mail).")
        var name: String?

        @Flag(help: "Make the account an administrator.")
        var admin = false

        @OptionGroup var options: ServerOptions

        func run() async throws {
            let text: String
            if passwordFile == "-" {
                text = readLine(strippingNewline: true) ?? ""
            } else {
                guard let data = FileManager.default.contents(atPath: passwordFile) else { throw CLIError("cannot read \(passwordFile)") }
                text = String(decoding: data, as: UTF8.self)
            }
            let password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            do {
                try await Runtime.createUser(try options.configuration(), email: email, name: name, password: password, admin: admin)
            } catch let error as ConfigurationError {
                throw CLIError(error.message)
            }
            emit("created \(admin ? "administrator" : "account") \(email.lowercased())\n")
        }
    }
}
