// swift-tools-version: 6.1
import PackageDescription

/// The pixel loops (KaryonImaging) are compiled for x86-64-v3 on x86-64: AVX2 gives them 8-wide
/// float and 16-wide 16-bit lanes (Gaussian, rank filters, region statistics, cell expansion). Every
/// x86-64 server processor since 2015 has it; `karyon` checks at start and says so when this one
/// does not. Swift does not contract a·b + c into FMA, so results are the same as without it.
#if arch(x86_64)
let vectorISA: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
#else
let vectorISA: [SwiftSetting] = []
#endif

let package = Package(
    name: "Karyon",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "karyon", targets: ["karyon"]),
        .library(name: "KaryonImaging", targets: ["KaryonImaging"]),
        .library(name: "KaryonAnalysis", targets: ["KaryonAnalysis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/vapor/vapor", from: "4.122.0"),
        .package(url: "https://github.com/vapor/fluent", from: "4.13.0"),
        .package(url: "https://github.com/vapor/fluent-kit", from: "1.57.0"),
        .package(url: "https://github.com/vapor/fluent-sqlite-driver", from: "4.9.0"),
        .package(url: "https://github.com/vapor/fluent-postgres-driver", from: "2.14.0"),
        .package(url: "https://github.com/vapor/jwt", from: "5.2.0"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // libvips headers and link flags from pkg-config (Debian: libvips-dev).
        .systemLibrary(
            name: "CVips",
            pkgConfig: "vips",
            providers: [.apt(["libvips-dev"])]
        ),
        // Plain-C wrappers around libvips' variadic API; glib and vips types stay out of its header.
        .target(
            name: "CVipsShim",
            dependencies: ["CVips"]
        ),
        // Image value type, codecs (the only code that links CVipsShim), colour, filters, histograms.
        .target(
            name: "KaryonImaging",
            dependencies: ["CVipsShim"],
            swiftSettings: vectorISA
        ),
        // The extractor contract, the registry, the extractors and the synthetic field renderer.
        .target(
            name: "KaryonAnalysis",
            dependencies: [
                "KaryonImaging",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The SQLite that SQLiteNIO compiles in, called synchronously (KaryonStore's DirectSQLite):
        // declarations of its prefixed entry points, resolved when SQLiteNIO is linked.
        .target(
            name: "CSQLiteDirect"
        ),
        // Records (Fluent models, migrations) and the encrypted blob store.
        .target(
            name: "KaryonStore",
            dependencies: [
                "CSQLiteDirect",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "FluentKit", package: "fluent-kit"),
                .product(name: "SQLKit", package: "sql-kit"),
            ]
        ),
        // The durable job queue, job runner and worker pools (no Vapor).
        .target(
            name: "KaryonPipeline",
            dependencies: [
                "KaryonStore",
                "KaryonAnalysis",
                "KaryonImaging",
                .product(name: "FluentKit", package: "fluent-kit"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The HTTP service (Vapor): composition root, routes, controllers, auth, OpenAPI document.
        .target(
            name: "KaryonServer",
            dependencies: [
                "KaryonStore",
                "KaryonPipeline",
                "KaryonAnalysis",
                "KaryonImaging",
                .product(name: "Vapor", package: "vapor"),
                .product(name: "Fluent", package: "fluent"),
                .product(name: "FluentSQLiteDriver", package: "fluent-sqlite-driver"),
                .product(name: "FluentPostgresDriver", package: "fluent-postgres-driver"),
                .product(name: "JWT", package: "jwt"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        // The HTTP client side of the command line: ingest (resumable parallel uploads) and the
        // pipeline load test (schedule, local server, report, physical limit).
        .target(
            name: "KaryonClient",
            dependencies: [
                "KaryonImaging",
                "KaryonAnalysis",
                "KaryonPipeline",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "karyon",
            dependencies: [
                "CVipsShim",
                "KaryonImaging",
                "KaryonAnalysis",
                "KaryonStore",
                "KaryonPipeline",
                "KaryonServer",
                "KaryonClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "karyon-bench",
            dependencies: ["KaryonImaging", "KaryonAnalysis"],
            path: "Benchmarks/karyon-bench"
        ),
        // Fixture loading (NPY, expected.json) and tolerance comparisons shared by the test targets.
        .target(
            name: "KaryonTestSupport",
            dependencies: ["KaryonImaging"],
            path: "Tests/KaryonTestSupport"
        ),
        .testTarget(
            name: "KaryonImagingTests",
            dependencies: ["KaryonImaging", "KaryonTestSupport"]
        ),
        .testTarget(
            name: "KaryonAnalysisTests",
            dependencies: ["KaryonAnalysis", "KaryonImaging", "KaryonTestSupport"]
        ),
        .testTarget(
            name: "KaryonStoreTests",
            dependencies: ["KaryonStore"]
        ),
        .testTarget(
            name: "KaryonServerTests",
            dependencies: [
                "karyon",
                "KaryonServer",
                "KaryonStore",
                "KaryonPipeline",
                "KaryonAnalysis",
                "KaryonImaging",
                "KaryonTestSupport",
                .product(name: "VaporTesting", package: "vapor"),
            ]
        ),
        .testTarget(
            name: "KaryonCLITests",
            dependencies: ["karyon", "KaryonStore", "KaryonClient", "KaryonTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
