import Testing
@testable import GRPO

/// The entropy bonus and TRL's adaptive controller, worked by hand.
@Suite("Entropy bonus")
struct EntropyBonusTests {
    /// Two completions, rewards 1 and 0, entropies [0.5, 1.5] and [2.5].
    let batch = Batch(groups: [Group(completions: [
        Completion(reward: 1, logp: [-0.4, -1.0], entropy: [0.5, 1.5]),
        Completion(reward: 0, logp: [-2.0], entropy: [2.5]),
    ])])

    @Test("loss = policy loss - coef * mean entropy of the acting tokens; no gradient through logp")
    func bonus() throws {
        var config = GRPOConfig()
        config.beta = 0
        config.lossType = .dapo
        let plain = try Vectorized.breakdown(batch, config: config)
        config.entropyCoef = 0.1
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            // mean entropy (0.5 + 1.5 + 2.5) / 3 = 1.5; bonus 0.1 * 1.5 = 0.15
            expectClose(b.entropyBonus!.entropy, 1.5, "mean entropy")
            expectClose(b.loss, plain.loss - 0.15, "loss")
            expectClose(b.policyLoss, plain.loss, "policy loss")
            #expect(b.gradLogp == plain.gradLogp)
            // d loss / d H_t = -0.1 / 3 at each of the three tokens
            expectClose(b.entropyGradient!.values, [-0.1 / 3, -0.1 / 3, -0.1 / 3], "d loss / d H")
            #expect(b.metrics.policyLoss == b.policyLoss && b.metrics.entropyCoef == 0.1)
        }
        // With top_entropy_quantile 0.5 the mask keeps entropies >= the median 1.5 (1.5 and 2.5):
        // the bonus is over those two, 0.1 * 2 = 0.2, and the third token's d loss / d H is 0.
        config.topEntropyQuantile = 0.5
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            expectClose(b.entropyBonus!.value, 0.2, "masked bonus")
            expectClose(b.entropyGradient!.values, [0, -0.05, -0.05], "masked d loss / d H")
        }
    }

    @Test("the adaptive controller: no bonus before a measurement, steps of delta within [min, max], gated by the target")
    func controller() {
        var config = GRPOConfig()
        config.useAdaptiveEntropy = true
        config.entropyCoef = 0.01
        config.entropyTarget = 0.5
        config.entropyCoefDelta = 0.005
        config.entropyCoefMax = 0.02
        var control = AdaptiveEntropy(config: config)
        #expect(control.appliedCoefficient(config) == 0, "nothing measured yet (TRL: last entropy inf)")
        control.update(measured: 0.3, config)  // at or below the target: up by delta, applied next
        expectClose(control.coefficient, 0.015, "up")
        expectClose(control.appliedCoefficient(config), 0.015, "applied while entropy <= target")
        control.update(measured: 0.6, config)  // above: down, and not applied
        expectClose(control.coefficient, 0.01, "down")
        #expect(control.appliedCoefficient(config) == 0)
        for _ in 0..<3 { control.update(measured: 0.4, config) }  // 0.015, 0.02, then held at the max
        expectClose(control.coefficient, 0.02, "capped at entropy_coef_max")
        config.useAdaptiveEntropy = false
        #expect(control.appliedCoefficient(config) == 0.01, "without adaptive control: entropy_coef as set")
    }

    @Test("verl's entropy term: the entropies aggregated as the loss is, by hand and on both paths")
    func aggregatedLikeTheLoss() throws {
        // Two completions of one group, entropies [1, 3] and [2]; a masked third token on the first.
        // seq-mean-token-mean with verl's m + 1e-8: (4 / (2 + 1e-8) + 2 / (1 + 1e-8)) / 2 = 1.99999998
        // (TRL's acting-token mean: (1 + 3 + 2) / 3 = 2); token-sum: 1 + 3 + 2 = 6;
        // seq-mean-token-sum: (4 + 2) / 2 = 3.
        var first = Completion(reward: 1, logp: [-1, -1, -1], entropy: [1, 3, 9])
        first.mask = [true, true, false]
        let batch = Batch(groups: [Group(completions: [first, Completion(reward: 0, logp: [-1], entropy: [2])])])
        var config = GRPOConfig()
        config.beta = 0
        config.entropyCoef = 0.1
        config.entropyAggregation = .lossAggregation
        config.countDivisor = .plusEpsilon
        let expected: [(GRPOConfig.Aggregation, Double)] = [
            (.sequenceMeanTokenMean, (4 / (2 + 1e-8) + 2 / (1 + 1e-8)) / 2), (.tokenSum, 6), (.sequenceMeanTokenSum, 3), (.tokenMean, 2),
        ]
        for (aggregation, value) in expected {
            config.lossAggMode = aggregation
            for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
                expectClose(b.entropyBonus!.entropy, value, "\(aggregation.rawValue)")
                expectClose(b.loss, b.policyLoss - 0.1 * value, "\(aggregation.rawValue) loss")
                // d loss / d H_t = -coef * w_i at the counted tokens (the tiny policy's path).
                let gradient = b.entropyGradient!
                expectClose(gradient[0, 0], -0.1 * b.weight[0], "\(aggregation.rawValue) d loss / d H")
                #expect(gradient[0, 2] == 0)
            }
        }
    }
}
