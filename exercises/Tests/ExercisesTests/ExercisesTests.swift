import ExerciseChecks
import Exercises
import Testing

/// Your exercises, one suite each: `swift test --filter Advantages` runs one. A failure names the
/// input, the number expected (the project's naive path) and yours.
func judge(_ report: Report) {
    for problem in report.problems { Issue.record(Comment(rawValue: problem)) }
}

@Suite struct PolicyGradient {
    @Test func policyGradientLoss() { judge(Checks.policyGradient(Mine.policyGradientLoss)) }
}

@Suite struct Advantages {
    @Test func groupAdvantages() { judge(Checks.advantages(Mine.groupAdvantages)) }
}

@Suite struct Ratio {
    @Test func importanceRatio() { judge(Checks.ratio(Mine.importanceRatio)) }
}

@Suite struct ClipMin {
    @Test func clippedObjective() { judge(Checks.clipMin(Mine.clippedObjective)) }
}

@Suite struct KL {
    @Test func klEstimate() { judge(Checks.kl(Mine.klEstimate)) }
}

@Suite struct Aggregation {
    @Test func aggregate() { judge(Checks.aggregation(Mine.aggregate)) }
}

@Suite struct Loss {
    @Test func grpoLoss() { judge(Checks.loss(Mine.grpoLoss)) }
}
