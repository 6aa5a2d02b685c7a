import Fluent
import Foundation
import KaryonImaging
import KaryonStore
import KaryonTestSupport
import NIOCore
import NIOPosix
import NIOHTTP1
import SQLKit
import Testing
import Vapor
import VaporTesting
@testable import KaryonServer

/// Which database the server tests run on: SQLite always; PostgreSQL too when
/// `KARYON_TEST_DATABASE_URL` names one (`.ci/run` starts a throw-away cluster).
enum TestDatabase: String, CustomStringConvertible, Sendable {
    case sqlite, postgres

    var description: String { rawValue }

    static var postgresURL: String? {
        ProcessInfo.processInfo.environment["KARYON_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The databases this run covers.
    static var all: [TestDatabase] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }
}

/// Serialises tests that share the PostgreSQL database (each starts from an empty schema).
actor PostgresGate {
    static let shared = PostgresGate()
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        if !busy { busy = true; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func leave() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }
}

/// A real Karyon server (the same `configure` as production) on a temporary data directory,
/// driven in memory through Vapor's testing client.
struct TestServer {
    let app: Application
    let directory: String
    let configuration: ServerConfiguration
    let database: TestDatabase
    /// What `configure` opened (blob store, metrics), shared with in-process workers in tests.
    var parts: ServerParts?

    /// Boots a server, runs `body`, shuts down and removes the data directory.
    static func with<T>(_ database: TestDatabase = .sqlite, adjust: (inout ServerConfiguration) -> Void = { _ in },
                        _ body: (TestServer) async throws -> T) async throws -> T {
        let directory = NSTemporaryDirectory() + "karyon-server-\(UUID().uuidString)"
        var configuration = ServerConfiguration(dataDirectory: directory, databaseURL: database == .postgres ? TestDatabase.postgresURL : nil)
        adjust(&configuration)
        if database == .postgres { await PostgresGate.shared.enter() }
        let app = try await Application.make(.testing)
        app.logger.logLevel = .critical
        // A thread pool per server, with a thread more than SQLite connections: SQLiteNIO runs
        // queries there and its busy handler spins while another connection's transaction holds
        // the write lock, so servers sharing the process-wide pool (as many as run in parallel)
        // could occupy every thread with spinners while the lock holder waits for one.
        app.threadPool = NIOThreadPool(numberOfThreads: System.coreCount + 1)
        var server = TestServer(app: app, directory: directory, configuration: configuration, database: database)
        do {
            if database == .postgres { try await server.resetPostgres() }
            server.parts = try await configure(app, configuration: configuration)
            let result = try await body(server)
            await app.http.server.shared.shutdown()
            try await app.asyncShutdown()
            if database == .postgres { await PostgresGate.shared.leave() }
            try? FileManager.default.removeItem(atPath: directory)
            return result
        } catch {
            await app.http.server.shared.shutdown()
            try? await app.asyncShutdown()
            if database == .postgres { await PostgresGate.shared.leave() }
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Drops everything in the public schema so each PostgreSQL test starts empty.
    private func resetPostgres() async throws {
        let probe = try await Application.make(.testing)
        probe.logger.logLevel = .critical
        do {
            try await DatabaseSetup.use(configuration, on: probe)
            if let sql = probe.db as? any SQLDatabase {
                try await sql.raw("DROP SCHEMA public CASCADE").run()
                try await sql.raw("CREATE SCHEMA public").run()
            }
        } catch {
            try? await probe.asyncShutdown()
            throw error
        }
        try await probe.asyncShutdown()
    }

    /// Starts a real HTTP listener on 127.0.0.1 at a free port (besides the in-memory client),
    /// for clients in other processes; ``with(_:adjust:_:)`` stops it. Returns the base URL.
    func listen() async throws -> String {
        try await app.asyncBoot()
        try await app.http.server.shared.start(address: .hostname("127.0.0.1", port: 0))
        guard let port = app.http.server.shared.localAddress?.port else { throw FixtureError("the test server has no port") }
        return "http://127.0.0.1:\(port)"
    }

    // MARK: Requests

    struct Reply {
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        let body: Data

        var json: Any? { try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
        var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func send(_ method: HTTPMethod, _ path: String, token: String? = nil, json: Any? = nil, rawBody: Data? = nil,
              contentType: String? = nil, headers extra: [(String, String)] = []) async throws -> Reply {
        var headers = HTTPHeaders()
        if let token { headers.add(name: .authorization, value: "Bearer \(token)") }
        var buffer = ByteBuffer()
        if let json {
            buffer.writeBytes(try JSONSerialization.data(withJSONObject: json))
            headers.add(name: .contentType, value: contentType ?? "application/json")
        } else if let rawBody {
            buffer.writeBytes(rawBody)
            if let contentType { headers.add(name: .contentType, value: contentType) }
        }
        for (name, value) in extra { headers.add(name: name, value: value) }
        let response = try await app.testing().sendRequest(method, path, headers: headers, body: buffer)
        return Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
    }

    // MARK: Fixtures

    /// Registers an account and returns its access token and id.
    @discardableResult
    func account(_ email: String, password: String = "correct horse battery") async throws -> (token: String, id: String) {
        let created = try await send(.POST, "/api/v1/auth/register", json: ["email": email, "password": password, "name": email])
        #expect(created.status == .created, "register \(email): \(created.text)")
        let login = try await send(.POST, "/api/v1/auth/login", json: ["email": email, "password": password])
        #expect(login.status == .ok, "login \(email): \(login.text)")
        return (login.object["access_token"] as? String ?? "", created.object["id"] as? String ?? "")
    }

    /// A personal API token (`kyn_…`) and its id, created with an access token.
    func personalToken(_ accessToken: String, name: String = "worker") async throws -> (secret: String, id: String) {
        let reply = try await send(.POST, "/api/v1/tokens", token: accessToken, json: ["name": name])
        #expect(reply.status == .created, "token: \(reply.text)")
        return (reply.object["token"] as? String ?? "", reply.object["id"] as? String ?? "")
    }

    /// Makes `email` an administrator directly in the database.
    func promote(_ email: String) async throws {
        guard let user = try await User.query(on: app.db).filter(\.$email == email).first() else { return }
        user.role = "admin"
        try await user.save(on: app.db)
    }

    func create(_ path: String, token: String, _ body: [String: Any]) async throws -> String {
        let reply = try await send(.POST, path, token: token, json: body)
        #expect(reply.status == .created, "POST \(path): \(reply.text)")
        return reply.object["id"] as? String ?? ""
    }

    /// A project, patient and study (with the `intensity` extractor) owned by `token`'s user.
    func records(token: String, extractors: [[String: Any]] = [["id": "intensity"]]) async throws -> (project: String, patient: String, study: String) {
        let project = try await create("/api/v1/projects", token: token, ["name": "Breast IHC"])
        let patient = try await create("/api/v1/patients", token: token,
                                       ["project_id": project, "surname": "Kowalska", "name": "Anna", "address": "Ul. Długa 1, Kraków"])
        let study = try await create("/api/v1/studies", token: token,
                                     ["patient_id": patient, "title": "Ki-67 biopsy", "kind": "ihc", "marker": "Ki-67", "stain": "H-DAB",
                                      "pixel_size": 0.5, "extractors": extractors])
        return (project, patient, study)
    }

    /// Uploads files as multipart `file` fields.
    func upload(_ files: [(name: String, bytes: [UInt8])], study: String, token: String, headers: [(String, String)] = []) async throws -> Reply {
        let boundary = "karyon-test-\(UUID().uuidString)"
        var body = Data()
        for file in files {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
            body.append(contentsOf: file.bytes)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return try await send(.POST, "/api/v1/studies/\(study)/images", token: token, rawBody: body,
                              contentType: "multipart/form-data; boundary=\(boundary)", headers: headers)
    }
}

/// Small encoded test images.
enum TestImages {
    /// A `width`×`height` RGB PNG with a deterministic gradient (distinct per `seed`).
    static func png(width: Int = 32, height: Int = 24, seed: Int = 1) throws -> [UInt8] {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                pixels += [UInt8((x * 7 + seed * 13) % 256), UInt8((y * 5 + seed * 31) % 256), UInt8((x + y + seed) % 256)]
            }
        }
        return try ImageCodec.encode(.uint8(try Image(width: width, height: height, channels: 3, pixels: pixels)), as: .png())
    }

    /// `png` with an extra `tEXt` chunk carrying `marker` (so the marker is in the file's bytes).
    static func png(withMarker marker: String) throws -> [UInt8] {
        let base = try png(seed: 7)
        let iend = base.count - 12
        let chunkData = Array("Comment".utf8) + [0] + Array(marker.utf8)
        let type = Array("tEXt".utf8)
        var chunk = bigEndian(UInt32(chunkData.count))
        chunk += type
        chunk += chunkData
        chunk += bigEndian(crc32(type + chunkData))
        return Array(base[..<iend]) + chunk + Array(base[iend...])
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// CRC-32 (ISO 3309, as PNG uses).
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }
}

/// Reads every regular file under `directory` (recursively).
func filesUnder(_ directory: String) -> [(path: String, bytes: Data)] {
    guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
    var out: [(String, Data)] = []
    while let relative = walker.nextObject() as? String {
        let path = (directory as NSString).appendingPathComponent(relative)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
           let data = FileManager.default.contents(atPath: path) {
            out.append((path, data))
        }
    }
    return out
}

/// Regular files under `directory` modified at or after `since`; older directories are not entered.
func recentFilesUnder(_ directory: String, since: Date) -> [(path: String, bytes: Data)] {
    let url = URL(fileURLWithPath: directory)
    guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.contentModificationDateKey, .isDirectoryKey]) else { return [] }
    var out: [(String, Data)] = []
    while let item = walker.nextObject() as? URL {
        let values = try? item.resourceValues(forKeys: [.contentModificationDateKey, .isDirectoryKey])
        let modified = values?.contentModificationDate ?? .distantPast
        if values?.isDirectory == true {
            if modified < since { walker.skipDescendants() }
            continue
        }
        if modified >= since, let data = try? Data(contentsOf: item), data.count < 64 << 20 { out.append((item.path, data)) }
    }
    return out
}
