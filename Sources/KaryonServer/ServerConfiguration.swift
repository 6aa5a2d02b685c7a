import Foundation

/// Everything the server needs to know from its environment, read once at the composition root.
///
/// | Key | Type | Default |
/// |---|---|---|
/// | `KARYON_DATA_DIR` | path | `./karyon-data` (SQLite database, blobs, key files) |
/// | `KARYON_DATABASE_URL` | `postgres://user:pass@host:port/db` | unset: SQLite at `<data>/karyon.sqlite` |
/// | `KARYON_HOST` | host name or address | `127.0.0.1` |
/// | `KARYON_PORT` | 1–65535 | `8080` |
/// | `KARYON_KEY_FILE` | path | `<data>/keys/kek.json` (key-encryption keys for blobs) |
/// | `KARYON_JWT_KEY_FILE` | path | `<data>/keys/jwt.json` (HMAC signing keys with `kid`s) |
/// | `KARYON_UPLOAD_LIMIT_MB` | integer MB | `512` (whole multipart request) |
/// | `KARYON_PIXEL_LIMIT` | integer pixels | `268435456` (2²⁸; larger images are refused at the header) |
/// | `KARYON_ACCESS_TOKEN_MINUTES` | 1–1440 | `15` |
/// | `KARYON_OPEN_REGISTRATION` | `true`/`false` | `true` until an administrator changes the setting |
/// | `KARYON_MAX_CONCURRENT_UPLOADS` | per user | `4` |
/// | `KARYON_MAX_UPLOADS` | uploads in flight, all users | `32` (more → 503 with `Retry-After`) |
/// | `KARYON_QUEUE_HIGH_WATER` | runnable jobs | `100000` (above it uploads get 503 with `Retry-After`) |
/// | `KARYON_JOB_LEASE_SECONDS` | 1–3600 (decimals allowed) | `60` (a claimed job not heartbeaten for this long goes back to the queue) |
public struct ServerConfiguration: Sendable {
    public var dataDirectory: String
    public var databaseURL: String?
    public var host: String
    public var port: Int
    public var keyFile: String
    public var jwtKeyFile: String
    public var uploadLimitBytes: Int
    public var pixelLimit: Int
    public var accessTokenLifetime: TimeInterval
    public var openRegistrationDefault: Bool
    public var maxConcurrentUploadsPerUser: Int
    /// Uploads in flight over all users; more are refused (memory stays bounded under bursts).
    public var maxConcurrentUploads: Int = 32
    /// Runnable jobs above which uploads are refused until the workers catch up (backpressure).
    public var queueHighWater: Int = 100_000
    /// How long a claim holds a job without a heartbeat, for Karyon's own workers and external ones.
    public var jobLease: TimeInterval
    /// How often expired leases are given back to the queue.
    public var reapInterval: TimeInterval = 5
    /// JSON request bodies above this size are refused with 413.
    public var jsonBodyLimitBytes: Int = 1 << 20
    /// Largest page a list endpoint returns, whatever `limit` asks.
    public var maxPageSize: Int = 200
    /// Consecutive failed logins that lock an account, and for how long.
    public var lockoutThreshold: Int = 10
    public var lockoutDuration: TimeInterval = 15 * 60

    public var blobDirectory: String { (dataDirectory as NSString).appendingPathComponent("blobs") }
    public var sqlitePath: String { (dataDirectory as NSString).appendingPathComponent("karyon.sqlite") }

    public init(dataDirectory: String, databaseURL: String? = nil, host: String = "127.0.0.1", port: Int = 8080,
                keyFile: String? = nil, jwtKeyFile: String? = nil, uploadLimitBytes: Int = 512 << 20,
                pixelLimit: Int = 1 << 28, accessTokenLifetime: TimeInterval = 15 * 60,
                openRegistrationDefault: Bool = true, maxConcurrentUploadsPerUser: Int = 4, jobLease: TimeInterval = 60) {
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.host = host
        self.port = port
        self.keyFile = keyFile ?? (dataDirectory as NSString).appendingPathComponent("keys/kek.json")
        self.jwtKeyFile = jwtKeyFile ?? (dataDirectory as NSString).appendingPathComponent("keys/jwt.json")
        self.uploadLimitBytes = uploadLimitBytes
        self.pixelLimit = pixelLimit
        self.accessTokenLifetime = accessTokenLifetime
        self.openRegistrationDefault = openRegistrationDefault
        self.maxConcurrentUploadsPerUser = maxConcurrentUploadsPerUser
        self.jobLease = jobLease
    }

    /// Reads the keys in the table above; malformed values are errors, not silently defaulted.
    public init(environment: [String: String]) throws {
        func integer(_ key: String, _ range: ClosedRange<Int>, default value: Int) throws -> Int {
            guard let raw = environment[key], !raw.isEmpty else { return value }
            guard let v = Int(raw), range.contains(v) else {
                throw ConfigurationError("\(key) must be an integer in \(range.lowerBound)…\(range.upperBound), got '\(raw)'")
            }
            return v
        }
        func seconds(_ key: String, _ range: ClosedRange<Double>, default value: Double) throws -> Double {
            guard let raw = environment[key], !raw.isEmpty else { return value }
            guard let v = Double(raw), v.isFinite, range.contains(v) else {
                throw ConfigurationError("\(key) must be a number of seconds in \(Int(range.lowerBound))…\(Int(range.upperBound)), got '\(raw)'")
            }
            return v
        }
        let data = environment["KARYON_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "karyon-data"
        let url = environment["KARYON_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let u = url, !(u.hasPrefix("postgres://") || u.hasPrefix("postgresql://")) {
            throw ConfigurationError("KARYON_DATABASE_URL must be postgres://user:password@host:port/database (or unset for SQLite), got a '\(u.split(separator: ":").first ?? "")' URL")
        }
        let registration: Bool
        switch environment["KARYON_OPEN_REGISTRATION"]?.lowercased() {
        case nil, "", "true", "1", "yes": registration = true
        case "false", "0", "no": registration = false
        case let other?: throw ConfigurationError("KARYON_OPEN_REGISTRATION must be true or false, got '\(other)'")
        }
        self.init(
            dataDirectory: data,
            databaseURL: url,
            host: environment["KARYON_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1",
            port: try integer("KARYON_PORT", 1...65535, default: 8080),
            keyFile: environment["KARYON_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 },
            jwtKeyFile: environment["KARYON_JWT_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 },
            uploadLimitBytes: try integer("KARYON_UPLOAD_LIMIT_MB", 1...65536, default: 512) << 20,
            pixelLimit: try integer("KARYON_PIXEL_LIMIT", 1...(1 << 34), default: 1 << 28),
            accessTokenLifetime: TimeInterval(try integer("KARYON_ACCESS_TOKEN_MINUTES", 1...1440, default: 15) * 60),
            openRegistrationDefault: registration,
            maxConcurrentUploadsPerUser: try integer("KARYON_MAX_CONCURRENT_UPLOADS", 1...64, default: 4),
            jobLease: try seconds("KARYON_JOB_LEASE_SECONDS", 1...3600, default: 60))
        maxConcurrentUploads = try integer("KARYON_MAX_UPLOADS", 1...4096, default: 32)
        queueHighWater = try integer("KARYON_QUEUE_HIGH_WATER", 1...100_000_000, default: 100_000)
    }
}

/// A configuration value that cannot be used; the message names the key and the accepted form.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
