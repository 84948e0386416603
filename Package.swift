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
    ],
    targets: [
        .target(
            name: "TopiaryCore",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "topiary",
            dependencies: [
                "TopiaryCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "topiary-bench",
            dependencies: ["TopiaryCore"],
            path: "bench/Sources/topiary-bench"
        ),
        .testTarget(
            name: "TopiaryCoreTests",
            dependencies: ["TopiaryCore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
