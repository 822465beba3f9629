// swift-tools-version:6.1
import PackageDescription

/// Coffer: a privacy-first customer data platform in local files.
///
/// Modules follow the data's flow:
/// `CofferFormats` (timestamps, JSON, hex, byte encodings; no dependencies) and
/// `COpenSSL` (system libcrypto) → `CofferCrypto` (primitives) → `CofferStore`
/// (vault, keyslots, encrypted append-only event log, identity graph, consent ledger) →
/// `CofferPolicy` (policy files, the policy engine) →
/// `CofferIngest` (Segment/CSV collect and transform) → `CofferAnalysis` (purchase models:
/// BG/NBD, Gamma-Gamma, RFM, cohorts, product affinity; on plain values) → `CofferProjection`
/// (single view with the analysis, segments, encrypted per-purpose databases, analyst SQL) → `CofferRequests`
/// (data-subject requests: export, erasure, restriction, rectification) → `CofferPublish` (consented
/// projections published to ClickHouse, with the deletes they are owed) → `CofferCollector`
/// (`coffer serve`: the Segment HTTP API into the sealed inbox, on Hummingbird) → `CofferDemo`
/// (generated data) → `CofferBench` (measurements) → `coffer` (thin CLI).
/// Upcoming language features every Coffer target is built with (as hummingbird's Package.swift does):
/// imports are internal unless a file says `public import`, members come only from modules a file
/// imports itself, and existential types are spelled `any P`.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Coffer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "coffer", targets: ["coffer"]),
        .library(name: "CofferCrypto", targets: ["CofferCrypto"]),
        .library(name: "CofferStore", targets: ["CofferStore"]),
        .library(name: "CofferPolicy", targets: ["CofferPolicy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CCofferZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CCofferSQLite",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "CofferFormats",
            swiftSettings: strict
        ),
        .target(
            name: "CofferCrypto",
            dependencies: ["COpenSSL"],
            swiftSettings: strict
        ),
        .target(
            name: "CofferStore",
            dependencies: [
                "CofferFormats",
                "CofferCrypto",
                "CCofferSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CofferPolicy",
            dependencies: [
                "CofferFormats",
                "CofferStore",
                "CofferCrypto",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CofferIngest",
            dependencies: [
                "CofferFormats",
                "CofferStore",
                "CofferPolicy",
                "CofferCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CofferProjection",
            dependencies: [
                "CofferFormats",
                "CofferAnalysis",
                "CofferStore",
                "CofferCrypto",
                "CofferPolicy",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CofferRequests",
            dependencies: [
                "CofferFormats",
                "CofferStore",
                "CofferCrypto",
                "CofferPolicy",
                "CofferProjection",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CofferFuzzTargets",
            dependencies: ["CofferIngest", "CofferPolicy", "CofferProjection"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "coffer-fuzz",
            dependencies: ["CofferFuzzTargets"],
            swiftSettings: strict
        ),
        .target(
            name: "CofferDemo",
            dependencies: ["CofferCrypto", "CofferFormats", "CofferIngest", "CofferStore", "CofferPolicy", "CofferProjection", "CofferActivation"],
            swiftSettings: strict
        ),
        .target(
            name: "CofferBench",
            dependencies: [
                "CofferActivation",
                "CofferFormats", "CofferStore", "CofferCrypto", "CofferPolicy", "CofferIngest", "CofferProjection", "CofferRequests",
                "CofferDemo", "CofferCollector", "CofferAnalysis", "CofferDashboard", "CofferPublish",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CofferAnalysis",
            dependencies: ["CofferFormats"],
            swiftSettings: strict
        ),
        .target(
            name: "CofferActivation",
            dependencies: [
                "CofferAnalysis",
                "CofferCrypto",
                "CofferFormats",
                "CofferStore",
                "CofferPolicy",
                "CofferProjection",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CofferPublish",
            dependencies: [
                "CofferCrypto",
                "CofferFormats",
                "CofferStore",
                "CofferPolicy",
                "CofferProjection",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CofferCollector",
            dependencies: [
                "CofferFormats",
                "CofferCrypto",
                "CofferStore",
                "CofferIngest",
                "CCofferZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CofferDashboard",
            dependencies: [
                "CofferFormats",
                "CofferCrypto",
                "CofferStore",
                "CofferPolicy",
                "CofferProjection",
                "CofferRequests",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "coffer",
            dependencies: [
                "CofferActivation",
                "CofferDashboard",
                "CofferAnalysis",
                "CofferCollector",
                "CofferFormats",
                "CofferStore",
                "CofferPolicy",
                "CofferProjection",
                "CofferRequests",
                "CofferIngest",
                "CofferDemo",
                "CofferBench",
                "CofferPublish",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            // jemalloc instead of glibc's malloc: with glibc, an ingest's heap grew with its input (freed
            // memory kept, fragmented, in the arenas: 1.66–1.96 GiB after 10M events, with SQLite's
            // own heap flat at 66 MiB); with jemalloc it stays near 250 MiB at the same rate (`bench ingest`).
            linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]
        ),
        .target(
            name: "CofferTestSupport",
            dependencies: ["CofferCrypto", "CofferStore"],
            path: "Tests/CofferTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferDashboardTests",
            dependencies: [
                "CofferDashboard",
                "CofferDemo",
                "CofferTestSupport",
                "CofferCrypto",
                "CofferFormats",
                "CofferIngest",
                "CofferPolicy",
                "CofferProjection",
                "CofferRequests",
                "CofferStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferPublishTests",
            dependencies: [
                "CofferPublish",
                "CofferDemo",
                "CofferTestSupport",
                "CofferCrypto",
                "CofferFormats",
                "CofferIngest",
                "CofferPolicy",
                "CofferProjection",
                "CofferRequests",
                "CofferStore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferAnalysisTests",
            dependencies: ["CofferAnalysis", "CofferFormats"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferCryptoTests",
            dependencies: ["CofferCrypto", "CofferFormats"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferStoreTests",
            dependencies: [
                "CofferTestSupport",
                "CofferFormats",
                "CofferStore",
                "CofferCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferIngestTests",
            dependencies: [
                "CofferTestSupport",
                "CofferFormats",
                "CofferIngest",
                "CofferPolicy",
                "CofferDemo",
                "CofferStore",
                "CofferCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferPolicyTests",
            dependencies: [
                "CofferTestSupport",
                "CofferFormats",
                "CofferPolicy",
                "CofferIngest",
                "CofferDemo",
                "CofferStore",
                "CofferCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferProjectionTests",
            dependencies: [
                "CofferTestSupport",
                "CofferAnalysis",
                "CofferFormats",
                "CofferProjection",
                "CofferFuzzTargets",
                "CofferDemo",
                "CofferPolicy",
                "CofferIngest",
                "CofferStore",
                "CofferCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferRequestsTests",
            dependencies: [
                "CofferTestSupport",
                "CofferFormats",
                "CofferRequests",
                "CofferProjection",
                "CofferDemo",
                "CofferPolicy",
                "CofferIngest",
                "CofferStore",
                "CofferCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferEndToEndTests",
            dependencies: [
                "CofferFormats",
                "CofferTestSupport",
                "CofferBench",
                "coffer",
                "CofferStore",
                "CofferCrypto",
                "CofferCollector",
                "CofferIngest",
                "CofferPolicy",
                "CofferPublish",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferActivationTests",
            dependencies: [
                "CofferActivation",
                "CofferAnalysis",
                "CofferDemo",
                "CofferRequests",
                "CofferTestSupport",
                "CofferCrypto",
                "CofferFormats",
                "CofferIngest",
                "CofferPolicy",
                "CofferProjection",
                "CofferStore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
    ]
)
