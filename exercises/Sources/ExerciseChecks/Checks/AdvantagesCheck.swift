import Foundation
import GRPO

extension Checks {
    /// Exercise Advantages (lesson 02): A_i = (r_i - mean(r)) / (std(r) + epsilon) over one
    /// group, with the sample (n - 1) or population (n) std; a group whose rewards are all equal
    /// gets A = 0. Against `Naive.advantages` (`scale_rewards group`).
    public static func advantages(_ answer: ([Double], GRPOConfig.StdEstimator, Double) throws -> [Double]) -> Report {
        var report = Report(.advantages)
        // By hand: rewards (1, 0, 0, 1), mean 0.5, sample std sqrt(4 x 0.25 / 3) = 0.5773502692,
        // A = +-0.5 / (0.5773502692 + 1e-4) = +-0.8658753; population std 0.5 gives +-0.9998.
        var cases: [(rewards: [Double], estimator: GRPOConfig.StdEstimator, epsilon: Double)] = [([1, 0, 0, 1], .sample, 1e-4)]
        var rng = SeededGenerator(seed: 2)
        for k in 0..<60 {
            let g = rng.integer(2, 8)
            let rewards = (0..<g).map { _ in k % 3 == 0 ? Double(rng.integer(0, 1)) : rng.uniform(-2, 2) }
            cases.append((rewards, k % 2 == 0 ? .sample : .population, [1e-4, 1e-6, 0.1][k % 3]))
        }
        cases.append(([0.5, 0.5, 0.5], .sample, 1e-4))  // all equal: A = 0
        cases.append(([0.1, 0.1, 0.1], .population, 1e-4))  // all equal, a mean that rounds: A within 1e-12 of 0
        for (rewards, estimator, epsilon) in cases {
            let going = report.attempt { report in
                let got = try answer(rewards, estimator, epsilon)
                var config = GRPOConfig()
                config.stdEstimator = estimator
                config.stdEpsilon = epsilon
                let want = Naive.advantages(rewards: [rewards], config: config).advantages[0]
                let input = "rewards (\(rewards.map(Report.format).joined(separator: ", "))), std_estimator \(estimator.rawValue), epsilon \(Report.format(epsilon))"
                guard got.count == want.count else {
                    report.add("exercise Advantages: at \(input): expected \(want.count) advantages, got \(got.count)")
                    return
                }
                for i in want.indices where !Report.close(got[i], want[i]) {
                    report.compare("A_\(i)", at: input, expected: want[i], got: got[i],
                                   mistakes: advantagesMistakes(rewards: rewards, estimator: estimator, epsilon: epsilon).map { ($0.0, $0.1[i]) })
                    return
                }
            }
            if !going { break }
        }
        return report
    }

    /// The mistakes that are easy to make here, each with the advantages it gives.
    static func advantagesMistakes(rewards: [Double], estimator: GRPOConfig.StdEstimator, epsilon: Double) -> [(String, [Double])] {
        let m = Naive.mean(rewards)
        let other: GRPOConfig.StdEstimator = estimator == .sample ? .population : .sample
        return [
            ("the \(other.rawValue) std: std_estimator \(estimator.rawValue) divides by \(estimator == .sample ? "n - 1" : "n")",
             rewards.map { ($0 - m) / (Naive.std(rewards, estimator: other) + epsilon) }),
            ("epsilon is missing from the denominator", rewards.map { ($0 - m) / Naive.std(rewards, estimator: estimator) }),
            ("the mean is not subtracted", rewards.map { $0 / (Naive.std(rewards, estimator: estimator) + epsilon) }),
            ("divided by the variance, not the std",
             rewards.map { ($0 - m) / (Naive.std(rewards, estimator: estimator) * Naive.std(rewards, estimator: estimator) + epsilon) }),
        ]
    }
}
