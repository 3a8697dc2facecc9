import ExerciseChecks
import Exercises
import Foundation
import Testing

/// Your exercises, one suite each: `swift test --filter Advantages` runs one. A failure names the
/// input, the number expected (the project's naive path) and yours, and points at your function.
func judge(_ report: Report) {
    let exercise = report.exercise
    guard !report.problems.isEmpty else {
        let all = Exercise.allCases
        let next = all.firstIndex(of: exercise).map { $0 + 1 < all.count ? all[$0 + 1] : nil } ?? nil
        print("exercise \(exercise.rawValue) passes." + (next.map { " Next: \($0.function) in \($0.file) (swift test --filter \($0.rawValue))." }
                                                         ?? " That was the last one: try 'swift run train-mine'."))
        return
    }
    for problem in report.problems {
        Issue.record(Comment(rawValue: wrapLines(problem).joined(separator: "\n")), sourceLocation: location(of: exercise))
    }
}

/// Where the learner's function is: the line that declares it in their file.
func location(of exercise: Exercise) -> SourceLocation {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = root.appendingPathComponent(exercise.file).path
    let name = "func " + (exercise.function.split(separator: ".").last.map(String.init) ?? "")
    let lines = (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n", omittingEmptySubsequences: false) ?? []
    let line = (lines.firstIndex { $0.contains(name) } ?? 0) + 1
    return SourceLocation(fileID: "Exercises/" + (exercise.file.split(separator: "/").last.map(String.init) ?? ""),
                          filePath: path, line: line, column: 1)
}

@Suite struct PolicyGradient {
    @Test func check() { judge(Checks.policyGradient(Mine.policyGradientLoss)) }
}

@Suite struct Advantages {
    @Test func check() { judge(Checks.advantages(Mine.groupAdvantages)) }
}

@Suite struct Ratio {
    @Test func check() { judge(Checks.ratio(Mine.importanceRatio)) }
}

@Suite struct ClipMin {
    @Test func check() { judge(Checks.clipMin(Mine.clippedObjective)) }
}

@Suite struct KL {
    @Test func check() { judge(Checks.kl(Mine.klEstimate)) }
}

@Suite struct Aggregation {
    @Test func check() { judge(Checks.aggregation(Mine.aggregate)) }
}

@Suite struct Loss {
    @Test func check() { judge(Checks.loss(Mine.grpoLoss)) }
}
