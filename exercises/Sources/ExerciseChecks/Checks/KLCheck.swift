import Foundation
import GRPO

extension Checks {
    /// Exercise KL (lesson 06): the per-token estimators of KL(pi_theta || pi_ref) from d =
    /// ref_logp - logp: k1 = -d, k2 = d^2 / 2, k3 = e^d - d - 1, abs = |d|; and their derivative in
    /// logp. Against `Naive.klPenalty`.
    public static func kl(_ answer: (Scalar, Double, GRPOConfig.KLEstimator) throws -> Scalar) -> Report {
        var report = Report(.kl)
        // By hand: logp = -1.2, ref_logp = -1.386: d = -0.186, k3 = e^-0.186 + 0.186 - 1 = 0.016274,
        // d k3 / d logp = 1 - e^d = 0.16973.
        var cases: [(logp: Double, ref: Double, estimator: GRPOConfig.KLEstimator)] = [(-1.2, -1.386, .k3)]
        var rng = SeededGenerator(seed: 5)
        for k in 0..<80 {
            let logp = -rng.uniform(0.01, 6)
            cases.append((logp, logp + rng.uniform(-2, 2), GRPOConfig.KLEstimator.allCases[k % GRPOConfig.KLEstimator.allCases.count]))
        }
        for (logp, ref, estimator) in cases {
            let going = report.attempt { report in
                let got = try valueAndGradient(logp) { try answer($0, ref, estimator) }
                var config = GRPOConfig()
                config.klEstimator = estimator
                let want = valueAndGradient(logp) { Naive.klPenalty(logp: $0, refLogp: ref, config: config) }
                let input = describe(["logp": logp, "ref_logp": ref]) + ", kl_estimator \(estimator.rawValue)"
                let flipped = logp - ref  // d the wrong way round
                let wrongWay: Double = switch estimator {
                case .k1: -flipped
                case .k2: flipped * flipped / 2
                case .k3: exp(flipped) - flipped - 1
                case .abs: Swift.abs(flipped)
                }
                // k2 and abs are even in d, so reversing d changes nothing there; for k1, a reversed d
                // and a missing minus give the same number, so one name says both.
                let name = "d the wrong way round: d = ref_logp - logp (for k1 = -d = logp - ref_logp, the same number as a missing minus)"
                let mistakes = estimator == .k2 || estimator == .abs ? [] : [(name, wrongWay)]
                report.compare("the KL estimate", at: input, expected: want.value, got: got.value, mistakes: mistakes)
                report.compareGradient("its d / d logp", at: input, expected: want.gradient, got: got.gradient)
            }
            if !going { break }
        }
        return report
    }
}
