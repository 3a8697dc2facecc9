// swift-tools-version: 6.0
import PackageDescription

// The exercises: the learner writes each term of the loss in Sources/Exercises, and
// `swift test --filter NAME` holds it against the project's naive path. A package of its own, so
// that the root package's `swift test` stays green while the exercises are unsolved.
let package = Package(
    name: "grpo-exercises",
    dependencies: [.package(name: "grpo-swift", path: "..")],
    targets: [
        // What each exercise must compute, and the checks that judge an answer.
        .target(name: "ExerciseChecks", dependencies: [.product(name: "GRPO", package: "grpo-swift")]),
        // The learner's answers: one file per exercise, each a stub until written.
        .target(name: "Exercises", dependencies: ["ExerciseChecks", .product(name: "GRPO", package: "grpo-swift")]),
        // Reference answers, kept apart, and one deliberately wrong answer per exercise.
        .target(name: "ReferenceSolutions", dependencies: [.product(name: "GRPO", package: "grpo-swift")],
                path: "Solutions"),
        .target(name: "WrongSolutions", dependencies: ["ReferenceSolutions", .product(name: "GRPO", package: "grpo-swift")],
                path: "Wrong"),
        // The tiny policy trained by an answer's loss beside the project's, and its command.
        .target(name: "LossTraining", dependencies: [.product(name: "GRPO", package: "grpo-swift"),
                                                     .product(name: "TinyPolicy", package: "grpo-swift")]),
        .executableTarget(name: "train-mine", dependencies: ["LossTraining", "Exercises", "ExerciseChecks",
                                                             "ReferenceSolutions", "WrongSolutions",
                                                             .product(name: "GRPO", package: "grpo-swift")]),
        // The learner's tests: `swift test --filter Advantages`.
        .testTarget(name: "ExercisesTests", dependencies: ["Exercises", "ExerciseChecks"]),
        // CI's: the references pass, the stubs and the wrong answers fail with the right message.
        .testTarget(name: "CourseChecks", dependencies: ["Exercises", "ExerciseChecks", "WrongSolutions", "LossTraining",
                                                    .product(name: "GRPO", package: "grpo-swift")]),
    ]
)
