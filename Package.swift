// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "grpo-swift",
    products: [
        .library(name: "GRPO", targets: ["GRPO"]),
        .executable(name: "grpo-repl", targets: ["grpo-repl"]),
        .executable(name: "grpo-bench", targets: ["grpo-bench"]),
    ],
    targets: [
        // The loss, term by term: a naive path (loops + scalar autodiff) and a vectorized path.
        .target(name: "GRPO"),
        // GNU readline, as a system library (Debian: libreadline-dev, GPL-3).
        .systemLibrary(
            name: "CReadline",
            providers: [.apt(["libreadline-dev"])]
        ),
        // Commands, batch files, tables and charts: everything the REPL does, without a terminal.
        .target(name: "REPLCore", dependencies: ["GRPO"]),
        .executableTarget(name: "grpo-repl", dependencies: ["REPLCore", "CReadline"]),
        .executableTarget(name: "grpo-bench", dependencies: ["GRPO"]),
        .testTarget(
            name: "GRPOTests",
            dependencies: ["GRPO"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "REPLCoreTests",
            dependencies: ["REPLCore", "grpo-repl"]
        ),
    ]
)
