import Foundation
import Testing
@testable import GRPO

/// The log-ratio penalty (`Naive.logRatioPenalty`, verl's kl_cov) and the unclipped objective it
/// is used with, by hand.
@Suite("The log-ratio penalty and the unclipped objective")
struct LogRatioPenaltyTests {
    /// Two completions of one group, advantages given, token-mean over 3 tokens:
    ///   row 0, A = 0.5:  t0 x = -1 - (-1.5) = 0.5, r = e^0.5 = 1.6487212707, k = 0.1
    ///                      L = -r A + k |x| = -0.8243606354 + 0.05 = -0.7743606354
    ///                      dL/dlogp = -A r + k sign(x) = -0.8243606354 + 0.1 = -0.7243606354
    ///                    t1 x = -2 - (-1.8) = -0.2, r = e^-0.2 = 0.8187307531, k = 0.3
    ///                      L = -0.4093653765 + 0.06 = -0.3493653765
    ///                      dL/dlogp = -0.4093653765 - 0.3 = -0.7093653765
    ///   row 1, A = -1:   t0 x = 0.4, r = e^0.4 = 1.4918246976, k = 0
    ///                      L = 1.4918246976, dL/dlogp = 1.4918246976
    /// loss = (-0.7743606354 - 0.3493653765 + 1.4918246976) / 3 = 0.1226995619;
    /// each gradient is dL/dlogp / 3.
    @Test("by hand: -r A + k |log r| per token, token-mean, on both paths")
    func byHand() throws {
        var first = Completion(reward: 0, logp: [-1, -2], oldLogp: [-1.5, -1.8], advantage: 0.5)
        first.logRatioPenalty = [0.1, 0.3]
        var second = Completion(reward: 0, logp: [-0.6], oldLogp: [-1.0], advantage: -1)
        second.logRatioPenalty = [0]
        let batch = Batch(groups: [Group(completions: [first, second])])
        var config = GRPOConfig()
        config.policyObjective = .unclipped
        config.lossAggMode = .tokenMean
        config.beta = 0
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            expectClose(b.loss, 0.1226995619, relative: 1e-9)
            expectClose(Array(b.gradLogp[0]), [-0.7243606354 / 3, -0.7093653765 / 3], relative: 1e-9)
            expectClose(Array(b.gradLogp[1]), [1.4918246976 / 3], relative: 1e-9)
            expectClose(Array(b.perTokenLoss[0]), [-0.7743606354, -0.3493653765], relative: 1e-9)
        }
    }

    /// The penalty reaches logp directly, so under a detached objective (whose gradient holds
    /// the ratios fixed) it still adds k sign(x) / N: checked against the same batch without it.
    @Test("under every objective, the penalty adds w k sign(logp - old_logp) to the gradient, on both paths",
          arguments: GRPOConfig.PolicyObjective.allCases)
    func addsItsSlope(objective: GRPOConfig.PolicyObjective) throws {
        var rng = SeededGenerator(seed: 53)
        for _ in 0..<20 {
            var batch = randomBatch(&rng, maxLength: 5, extras: false)
            var config = randomConfig(&rng, for: batch)
            config.policyObjective = objective
            config.offPolicyMaskThreshold = nil
            config.topEntropyQuantile = 1
            config.vllmImportanceSamplingCorrection = false
            if objective.foldsSamplerWeight { config.vllmImportanceSamplingMode = .tokenTruncate }
            let plain = batch
            for g in batch.groups.indices {
                for i in batch.groups[g].completions.indices {
                    batch.groups[g].completions[i].logRatioPenalty = batch.groups[g].completions[i].logp.map { _ in rng.uniform(0, 1) }
                }
            }
            for path in [Naive.breakdown, Vectorized.breakdown] as [(Batch, GRPOConfig) throws -> Breakdown] {
                let with = try path(batch, config), without = try path(plain, config)
                for (row, c) in batch.completions.enumerated() {
                    for t in 0..<c.length where with.counts(row: row, token: t) {
                        let x = c.logp[t] - c.oldLogp[t]
                        let slope = c.logRatioPenalty![t] * (x > 0 ? 1 : x < 0 ? -1 : 0) * with.weight[row]
                        // The difference of two gradients: held to their size (VESPO's can be large).
                        let size = max(abs(with.gradLogp[row, t]), abs(without.gradLogp[row, t]), 1)
                        expectClose(with.gradLogp[row, t] - without.gradLogp[row, t], slope, relative: 1e-9, absolute: 1e-12 * size,
                                    "\(objective) [\(row), \(t)]")
                    }
                }
            }
        }
    }

    /// verl takes a negative ppo_kl_coef: the "penalty" then pays a token for moving away.
    ///   One token, A = 0 (no policy term), x = -1 - (-1.5) = 0.5, k = -0.2:
    ///   L = k |x| = -0.1, dL/dlogp = k sign(x) = -0.2; token-mean over 1 token.
    @Test("a negative coefficient is a bonus, on both paths")
    func negativeCoefficient() throws {
        var c = Completion(reward: 0, logp: [-1], oldLogp: [-1.5], advantage: 0)
        c.logRatioPenalty = [-0.2]
        let batch = Batch(groups: [Group(completions: [c])])
        var config = GRPOConfig()
        config.policyObjective = .unclipped
        config.lossAggMode = .tokenMean
        config.beta = 0
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            expectClose(b.loss, -0.1, relative: 1e-12)
            expectClose(b.gradLogp[0, 0], -0.2, relative: 1e-12)
        }
    }
}
