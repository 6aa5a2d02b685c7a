// swift-tools-version: 6.1
import PackageDescription

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
            dependencies: ["CVipsShim"]
        ),
        // The extractor contract, the registry, the extractors and the synthetic field renderer.
        .target(
            name: "KaryonAnalysis",
            dependencies: [
                "KaryonImaging",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Records (Fluent models, migrations) and the encrypted blob store.
        .target(
            name: "KaryonStore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "karyon",
            dependencies: [
                "KaryonImaging",
                "KaryonAnalysis",
                "KaryonStore",
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
            name: "KaryonCLITests",
            dependencies: ["karyon", "KaryonStore", "KaryonTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
