import Foundation
import GRPO

extension Checks {
    /// Exercise PolicyGradient (lesson 01): L_t = -A log pi(o_t), and d L_t / d logp = -A, against
    /// `Naive.reinforceObjective` (the loss is minus the objective).
    public static func policyGradient(_ answer: (Scalar, Double) throws -> Scalar) -> Report {
        var report = Report(.policyGradient)
        // Lesson 01's first token: logp = -0.5, A = 0.7070: L = -(0.7070 x -0.5) = 0.3535, d L / d logp = -0.7070.
        // By hand: logp = -0.5, A = 1.5: L = -(1.5 x -0.5) = 0.75, d L / d logp = -1.5.
        var cases: [(logp: Double, a: Double)] = [(-0.5, 0.7070), (-0.5, 1.5)]
        var rng = SeededGenerator(seed: 1)
        for _ in 0..<50 { cases.append((-rng.uniform(0.01, 6), rng.uniform(-3, 3))) }
        for (logp, a) in cases {
            let going = report.attempt { report in
                let got = try valueAndGradient(logp) { try answer($0, a) }
                let want = valueAndGradient(logp) { -Naive.reinforceObjective(logp: $0, advantage: a) }
                let input = describe(["logp": logp, "A": a])
                let mistakes = [("the sign: the loss is minus the objective A logp", -want.value),
                                ("the probability: the term is A log pi, not A pi", -a * exp(logp))]
                report.compare("L_t", at: input, expected: want.value, got: got.value, mistakes: mistakes)
                report.compareGradient("d L_t / d logp", at: input, expected: want.gradient, got: got.gradient)
            }
            if !going { break }
        }
        return report
    }
}
