// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Topiary",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "topiary", targets: ["topiary"]),
        .library(name: "TopiaryCore", targets: ["TopiaryCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
    ],
    targets: [
        .target(
            name: "TopiaryCore",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(
            name: "TopiaryWire",
            dependencies: ["CZeroMQ", "TopiaryCore", "TopiaryArtifacts"]
        ),
        .target(
            name: "TopiarySearch",
            dependencies: ["TopiaryCore", "TopiaryHardware"]
        ),
        .target(
            name: "TopiaryCoordinator",
            dependencies: ["TopiaryWire", "TopiaryCore", "TopiaryStore", "TopiarySearch", "TopiaryHardware", "TopiaryArtifacts",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Prometheus", package: "swift-prometheus")]
        ),
        .target(
            name: "TopiaryWorker",
            dependencies: ["TopiaryWire", "TopiaryCore", "TopiaryArtifacts", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "TopiaryHardware",
            dependencies: ["TopiaryCore", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "TopiaryArtifacts",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "TopiaryDashboard",
            dependencies: ["TopiaryCore", "TopiaryStore", "TopiaryHardware", "TopiaryArtifacts"]
        ),
        .target(
            name: "TopiaryStore",
            dependencies: [
                "TopiaryCore",
                "TopiaryArtifacts",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "topiary",
            dependencies: [
                "TopiaryCore",
                "TopiaryStore",
                "TopiaryHardware",
                "TopiarySearch",
                "TopiaryWire",
                "TopiaryCoordinator",
                "TopiaryWorker",
                "TopiaryDashboard",
                "TopiaryArtifacts",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .executableTarget(
            name: "topiary-bench",
            dependencies: ["TopiaryCore", "TopiaryStore", "TopiaryHardware", "TopiarySearch", "TopiaryWire", "TopiaryDashboard",
                           .product(name: "Logging", package: "swift-log")],
            path: "bench/Sources/topiary-bench"
        ),
        .testTarget(
            name: "TopiaryCoreTests",
            dependencies: ["TopiaryCore"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TopiaryHardwareTests",
            dependencies: ["TopiaryHardware", "TopiaryCore"]
        ),
        .testTarget(
            name: "TopiarySearchTests",
            dependencies: ["TopiarySearch", "TopiaryCore"]
        ),
        .testTarget(
            name: "TopiaryIntegrationTests",
            dependencies: ["TopiaryStore", "TopiaryCore", "TopiaryWire", "TopiaryArtifacts"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TopiaryCoordinatorTests",
            dependencies: ["TopiaryCoordinator", "TopiaryWire", "TopiaryStore", "TopiaryCore", "TopiaryHardware", "TopiaryArtifacts", "TopiaryWorker",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "TopiaryDashboardTests",
            dependencies: ["TopiaryDashboard"]
        ),
        .testTarget(
            name: "TopiaryStoreTests",
            dependencies: ["TopiaryStore", "TopiaryCore", .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
