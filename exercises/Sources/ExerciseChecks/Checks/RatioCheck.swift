import Foundation
import GRPO

extension Checks {
    /// Exercise Ratio (lesson 03): r_t = pi_theta / pi_old = exp(logp - old_logp), and
    /// d r / d logp = r. Against `Naive.tokenRatio`.
    public static func ratio(_ answer: (Scalar, Double) throws -> Scalar) -> Report {
        var report = Report(.ratio)
        // By hand: logp = -1.2, old_logp = -1.6: r = e^0.4 = 1.491824698, d r / d logp = 1.491824698.
        var cases: [(logp: Double, old: Double)] = [(-1.2, -1.6), (-0.7, -0.7)]
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<50 {
            let logp = -rng.uniform(0.01, 6)
            cases.append((logp, logp + rng.uniform(-1.5, 1.5)))
        }
        for (logp, old) in cases {
            let going = report.attempt { report in
                let got = try valueAndGradient(logp) { try answer($0, old) }
                let want = valueAndGradient(logp) { Naive.tokenRatio(logp: $0, oldLogp: old, config: GRPOConfig()) }
                let input = describe(["logp": logp, "old_logp": old])
                let mistakes = [("inverted: the ratio is pi_theta / pi_old, exp(logp - old_logp)", exp(old - logp)),
                                ("log-probs divided: divide the probabilities, exp(logp) / exp(old_logp)", logp / old)]
                report.compare("r_t", at: input, expected: want.value, got: got.value, mistakes: mistakes)
                report.compareGradient("d r_t / d logp", at: input, expected: want.gradient, got: got.gradient)
            }
            if !going { break }
        }
        return report
    }
}
