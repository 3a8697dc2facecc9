// swift-tools-version: 6.0
import PackageDescription

/// The libraries are compiled with optimization in debug builds too: the lessons' multi-seed runs
/// (and so `swift test`) take a sixth of the time, and the numbers are the same (no fast-math:
/// IEEE arithmetic in the same order; every lesson's quoted numbers and transcript still match).
/// Tests still see internals (testing stays enabled in debug builds).
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "grpo-swift",
    products: [
        .library(name: "GRPO", targets: ["GRPO"]),
        // The tiny policy and its trainer, for the exercises' `train-mine`.
        .library(name: "TinyPolicy", targets: ["TinyPolicy"]),
        // The REPL's commands and file readers, for the fuzz targets in fuzz/.
        .library(name: "REPLCore", targets: ["REPLCore"]),
        .executable(name: "grpo-repl", targets: ["grpo-repl"]),
        .executable(name: "grpo-bench", targets: ["grpo-bench"]),
    ],
    dependencies: [
        // Both executables' command lines: subcommands, --help, shell completion scripts (Apache-2.0).
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The loss, term by term: a naive path (loops + scalar autodiff) and a vectorized path. No I/O.
        .target(name: "GRPO", swiftSettings: optimizedInDebug),
        // A policy small enough to print, tasks with verifiable rewards, and the GRPO training loop.
        .target(name: "TinyPolicy", dependencies: ["GRPO"], swiftSettings: optimizedInDebug),
        // Commands, batch files, tables and charts: everything the REPL does, without a terminal.
        .target(name: "REPLCore", dependencies: ["GRPO", "TinyPolicy",
                                               .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: optimizedInDebug),
        // GNU readline, as a system library (Debian: libreadline-dev; GPL-3).
        .systemLibrary(name: "CReadline", providers: [.apt(["libreadline-dev"])]),
        .executableTarget(name: "grpo-repl", dependencies: ["REPLCore", "CReadline",
                                                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "grpo-bench", dependencies: ["GRPO", "TinyPolicy", "REPLCore",
                                                            .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The whole GRPO loop in one file, to read top to bottom (the library's naive path).
        .executableTarget(name: "grpo-in-one-file", dependencies: ["GRPO"], path: "examples/grpo-in-one-file"),
        .testTarget(name: "GRPOTests", dependencies: ["GRPO"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TinyPolicyTests", dependencies: ["TinyPolicy"]),
        .testTarget(name: "REPLCoreTests", dependencies: ["REPLCore"]),
        // Drives the built grpo-repl and grpo-bench executables through pipes.
        .testTarget(name: "GRPOReplTests", dependencies: ["grpo-repl", "grpo-bench"], exclude: ["Transcripts"]),
    ]
)
