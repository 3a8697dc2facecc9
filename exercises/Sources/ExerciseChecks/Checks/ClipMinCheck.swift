import Foundation
import GRPO

extension Checks {
    /// Exercise ClipMin (lesson 04): min(r A, clip(r, 1 - epsilon_low, 1 + epsilon_high) A), the
    /// objective (not yet negated), and its derivative in r. Against `Naive.clippedSurrogate`.
    public static func clipMin(_ answer: (Scalar, Double, Double, Double) throws -> Scalar) -> Report {
        var report = Report(.clipMin)
        // By hand (epsilon 0.2 both sides): r = 1.492, A = 0.5: min(0.746, 1.2 x 0.5) = 0.6, gradient 0;
        // r = 0.7, A = -1: min(-0.7, -0.8) = -0.8, gradient 0; r = 0.7, A = 1: min(0.7, 0.8) = 0.7, gradient 1.
        var cases: [(r: Double, a: Double, low: Double, high: Double)] = [(1.492, 0.5, 0.2, 0.2), (0.7, -1, 0.2, 0.2), (0.7, 1, 0.2, 0.2)]
        var rng = SeededGenerator(seed: 4)
        for k in 0..<80 {
            cases.append((rng.uniform(0.3, 1.9), rng.uniform(-2, 2), 0.2, k % 2 == 0 ? 0.2 : 0.28))
        }
        for (r, a, low, high) in cases {
            let going = report.attempt { report in
                let got = try valueAndGradient(r) { try answer($0, a, low, high) }
                var config = GRPOConfig()
                config.epsilon = low
                config.epsilonHigh = high
                let want = valueAndGradient(r) { Naive.clippedSurrogate(ratio: $0, advantage: a, config: config) }
                let input = describe(["r": r, "A": a, "epsilon_low": low, "epsilon_high": high])
                let clippedRatio = min(max(r, 1 - low), 1 + high), clipped = clippedRatio * a
                let mistakes = [
                    ("no min: the clipped term alone; min(r A, clip(r) A) keeps the unclipped one when it is smaller", clipped),
                    // Before "max instead of min": with A < 0 the two agree, with A > 0 only this one is right.
                    ("the min of the ratios, then times A: with A < 0 that picks the larger term; take min(r A, clip(r) A)",
                     min(r, clippedRatio) * a),
                    ("max instead of min: the objective takes the pessimistic (smaller) term", max(r * a, clipped)),
                    ("epsilon_high is not used: the upper bound is 1 + epsilon_high", min(r * a, min(max(r, 1 - low), 1 + low) * a)),
                    ("negated: this exercise returns the objective; the loss negates it later", -min(r * a, clipped)),
                ]
                report.compare("the objective", at: input, expected: want.value, got: got.value, mistakes: mistakes)
                report.compareGradient("d objective / d r", at: input, expected: want.gradient, got: got.gradient)
            }
            if !going { break }
        }
        return report
    }
}
