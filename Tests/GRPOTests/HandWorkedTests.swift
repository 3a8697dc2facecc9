import Foundation
import Testing
@testable import GRPO

/// Small cases worked by hand, with the arithmetic in the comments.
@Suite("Hand-worked cases")
struct HandWorkedTests {
    /// One group, one token per completion, logp = log(ratio), old_logp = 0.
    func singleTokens(rewards: [Double], ratios: [Double]) -> Batch {
        Batch(groups: [Group(completions: zip(rewards, ratios).map { reward, r in
            Completion(reward: reward, logp: [log(r)], oldLogp: [0])
        })])
    }

    @Test("rewards [1,0,0,1]: A = +-0.866 with the sample std, +-1.0 with the population std")
    func sampleVersusPopulationStd() throws {
        // mean = 0.5; deviations +-0.5; sum of squares = 4 * 0.25 = 1
        // sample std     = sqrt(1 / 3) = 0.57735...  -> A = 0.5 / 0.57735 = 0.866025...
        // population std = sqrt(1 / 4) = 0.5        -> A = 0.5 / 0.5     = 1
        var config = GRPOConfig()
        config.beta = 0
        config.stdEpsilon = 0
        let batch = singleTokens(rewards: [1, 0, 0, 1], ratios: [1, 1, 1, 1])
        let sample = try Naive.breakdown(batch, config: config).advantages
        expectClose(sample, [0.8660254037844386, -0.8660254037844386, -0.8660254037844386, 0.8660254037844386], "sample")
        config.stdEstimator = .population
        expectClose(try Naive.breakdown(batch, config: config).advantages, [1, -1, -1, 1], "population")
        // With TRL's epsilon 1e-4: 0.5 / (0.57735 + 0.0001) = 0.865875...
        config.stdEstimator = .sample
        config.stdEpsilon = 1e-4
        expectClose(try Vectorized.breakdown(batch, config: config).advantages[0], 0.5 / (0.5773502691896257 + 1e-4), "eps")
    }

    @Test("on-policy grpo: loss 0, gradient -A_i / (B |o_i|) per token")
    func onPolicyGRPO() throws {
        // Rewards [1, 0], population std 0.5, epsilon 0: A = [+1, -1].
        // On-policy every ratio is 1, so L_t = -A_i and each completion's token mean is -A_i:
        // loss = (1/2) * ((-1) + (+1)) = 0.
        // d loss / d logp_t = -A_i * r / (B |o_i|) with r = 1, B = 2:
        //   completion 0 (3 tokens): -1 / 6;  completion 1 (1 token): +1 / 2.
        var config = GRPOConfig()
        config.beta = 0
        config.stdEstimator = .population
        config.stdEpsilon = 0
        let batch = Batch(groups: [Group(completions: [
            Completion(reward: 1, logp: [-0.5, -1.0, -2.0]),
            Completion(reward: 0, logp: [-0.3]),
        ])])
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            #expect(b.loss == 0)
            expectClose(b.gradLogp.values, [-1.0 / 6, -1.0 / 6, -1.0 / 6, 0.5], "grad")
            #expect(b.ratio.values.allSatisfy { $0 == 1 })
        }
        // Under dapo the same batch has loss -sum_i(A_i |o_i|) / N = -(3 - 1) / 4 = -0.5, not 0.
        config.lossType = .dapo
        expectClose(try Naive.breakdown(batch, config: config).loss, -0.5, "dapo loss")
    }

    @Test("clip and min: the four cases of sign(A) x side of the clip range")
    func fourClipCases() throws {
        // A = [+1, -1] (rewards [1, 0], population std, epsilon 0); grpo with B = 2, |o| = 1: w = 1/2.
        var config = GRPOConfig()
        config.beta = 0
        config.stdEstimator = .population
        config.stdEpsilon = 0

        // Ratio 1.5, above 1 + 0.2:
        //   A = +1: min(1.5, 1.2) = 1.2   -> clipped: L = -1.2, no gradient
        //   A = -1: min(-1.5, -1.2) = -1.5 -> unclipped: L = 1.5, d L / d logp = -A r = 1.5, times w = 0.75
        //   loss = (-1.2 + 1.5) / 2 = 0.15
        let high = try Naive.breakdown(singleTokens(rewards: [1, 0], ratios: [1.5, 1.5]), config: config)
        #expect(high.branch.values == [.clipped, .unclipped])
        expectClose(high.loss, 0.15, "loss above")
        expectClose(high.gradLogp.values, [0, 0.75], "grad above")

        // Ratio 0.5, below 1 - 0.2:
        //   A = +1: min(0.5, 0.8) = 0.5    -> unclipped: L = -0.5, d L / d logp = -A r = -0.5, times w = -0.25
        //   A = -1: min(-0.5, -0.8) = -0.8 -> clipped: L = 0.8, no gradient
        //   loss = (-0.5 + 0.8) / 2 = 0.15
        let low = try Vectorized.breakdown(singleTokens(rewards: [1, 0], ratios: [0.5, 0.5]), config: config)
        #expect(low.branch.values == [.unclipped, .clipped])
        expectClose(low.loss, 0.15, "loss below")
        expectClose(low.gradLogp.values, [-0.25, 0], "grad below")
        // Clip metrics: low = ratio < 0.8 with A < 0 (1 of 2 tokens); high = ratio > 1.2 with A > 0.
        expectClose(low.metrics.clipRatioLow!, 0.5, "low metric")
        expectClose(high.metrics.clipRatioHigh!, 0.5, "high metric")
    }

    @Test("two-sided clipping: delta caps the ratio a negative advantage can push")
    func delta() throws {
        // A = -1, ratio 4 > delta = 3: min(min(4, 3) * -1, 1.2 * -1) = -3 -> L = 3, capped, no gradient.
        var config = GRPOConfig()
        config.beta = 0
        config.stdEstimator = .population
        config.stdEpsilon = 0
        config.delta = 3
        let b = try Naive.breakdown(singleTokens(rewards: [1, 0], ratios: [1, 4]), config: config)
        #expect(b.branch[1, 0] == .capped)
        expectClose(b.perTokenLoss[1, 0], 3, "capped loss")
        #expect(b.gradLogp[1, 0] == 0)
    }

    @Test("delta below 1 + epsilon_high: TRL's cap and verl's dual clip part ways inside the clip range",
          arguments: GRPOConfig.DeltaForm.allCases)
    func deltaForms(form: GRPOConfig.DeltaForm) throws {
        // A = -1 (rewards [1, 0], population std 0.5, so A = -0.5 / 0.5), ratio 1.15 inside
        // [0.8, 1.2], delta 1.1. The surrogate min(1.15 * -1, clip(1.15) * -1) = -1.15 either way.
        //   cap:       min(min(1.15, 1.1) * -1, 1.15 * -1) = -1.15 -> L = 1.15, through clip(r) = r:
        //              d L / d logp = -A r = 1.15 (per token; B = 2 rows of one token, weight 1/2)
        //   dual_clip: max(-1.15, 1.1 * -1) = -1.1 -> L = 1.1, held by the floor: d L / d logp = 0
        var config = GRPOConfig()
        config.beta = 0
        config.stdEstimator = .population
        config.stdEpsilon = 0
        config.delta = 1.1
        config.deltaForm = form
        let batch = singleTokens(rewards: [1, 0], ratios: [1, 1.15])
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            expectClose(b.advantages[1], -1, "A")
            switch form {
            case .cap:
                expectClose(b.perTokenLoss[1, 0], 1.15, "cap loss")
                expectClose(b.gradLogp[1, 0], 1.15 / 2, "cap gradient")
                #expect(b.branch[1, 0] == .unclipped)
            case .dualClip:
                expectClose(b.perTokenLoss[1, 0], 1.1, "dual-clip loss")
                #expect(b.gradLogp[1, 0] == 0)
                #expect(b.branch[1, 0] == .capped)
            }
        }
    }

    @Test("log_ratio_clamp: the ratio of a log-ratio past c is e^c, and passes no gradient")
    func logRatioClamp() throws {
        // Rewards [0, 1]: A = -1, +1. Row 0's log-ratio 25 > c = 20, so r = e^20 (not e^25);
        // A < 0 keeps the unclipped term: L = -min(e^20 * -1, clip(e^20) * -1 = -1.2) = e^20,
        // and the clamp passes no gradient: d L / d logp = 0. Row 1: r = 1, A = +1, L = -1,
        // d L / d logp = -A r / N = -1 / 2 (bnpo: token mean over N = 2).
        var config = GRPOConfig()
        config.beta = 0
        config.lossType = .bnpo
        config.stdEstimator = .population
        config.stdEpsilon = 0
        config.logRatioClamp = 20
        let batch = singleTokens(rewards: [0, 1], ratios: [exp(25), 1])
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            expectClose(b.ratio[0, 0], exp(20), "clamped ratio")
            expectClose(b.perTokenLoss[0, 0], exp(20), "loss at the clamp")
            #expect(b.gradLogp[0, 0] == 0)
            expectClose(b.gradLogp[1, 0], -0.5, "unclamped token")
        }
    }

    @Test("dro and dppo_tv on one token each, by hand, both paths")
    func droAndDPPO() throws {
        // Rewards [1, 0] with the population std: A = +1, -1. Row 0: logp -0.5, old -0.7
        // (x = 0.2, r = e^0.2 = 1.2214); row 1: logp -1 = old. One token each, seq-mean-token-mean: w = 1/2.
        let batch = Batch(groups: [Group(completions: [
            Completion(reward: 1, logp: [-0.5], oldLogp: [-0.7]), Completion(reward: 0, logp: [-1], oldLogp: [-1]),
        ])])
        var config = GRPOConfig()
        config.beta = 0
        config.stdEstimator = .population
        config.stdEpsilon = 0
        // dro, beta 0.5: row 0 objective A logp - beta/2 x^2 = -0.5 - 0.25 * 0.04 = -0.51, so L = 0.51,
        // d L / d logp = -(A - beta x) = -0.9; row 1: L = -(-1 * -1) = -1, d L / d logp = -(-1 - 0) = 1.
        config.policyObjective = .dro
        config.droBeta = 0.5
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            expectClose(b.loss, (0.51 - 1) / 2, "dro loss")
            expectClose(b.gradLogp.values, [-0.45, 0.5], "dro gradient")
        }
        // dppo_tv: p = e^-0.5 = 0.60653 and p_old = e^-0.7 = 0.49659 differ by 0.10995 <= epsilon_high 0.2,
        // so row 0 keeps sg(min(r, 3)) A logp: L = -1.2214 * -0.5 = 0.61070, d L / d logp = -1.2214 (times 1/2).
        // Row 1: p = p_old, kept: L = -(1 * -1 * -1) = -1, d L / d logp = 1 (times 1/2).
        config.policyObjective = .dppoTV
        config.delta = 3
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            expectClose(b.perTokenLoss.values, [exp(0.2) * 0.5, -1], "dppo_tv kept")
            expectClose(b.gradLogp.values, [-exp(0.2) / 2, 0.5], "dppo_tv gradient")
        }
        // With epsilon_high 0.1 the move of 0.10995 leaves the trust region: row 0 passes nothing.
        config.epsilonHigh = 0.1
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            #expect(b.perTokenLoss[0, 0] == 0 && b.gradLogp[0, 0] == 0)
        }
    }

    @Test("zero-variance group: every advantage is exactly 0, even with std_epsilon 0")
    func zeroVariance() throws {
        var config = GRPOConfig()
        config.beta = 0
        config.stdEpsilon = 0
        let batch = singleTokens(rewards: [0.3, 0.3, 0.3], ratios: [1.1, 0.9, 1])
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            #expect(b.advantages == [0, 0, 0])
            #expect(b.gradLogp.values == [0, 0, 0])
            #expect(b.metrics.fracRewardZeroStd == 1)
        }
    }

    @Test("k3 by hand: d = ref - logp = 0.4 gives exp(0.4) - 0.4 - 1 = 0.0918247")
    func k3ByHand() throws {
        var config = GRPOConfig()
        config.lossType = .bnpo
        config.beta = 1
        let batch = Batch(groups: [Group(completions: [
            Completion(reward: 0, logp: [-1.0], refLogp: [-0.6]),
            Completion(reward: 0, logp: [-1.0], refLogp: [-1.0]),
        ])])
        let b = try Naive.breakdown(batch, config: config)
        // exp(0.4) = 1.4918247; minus 0.4 minus 1 = 0.0918247. Gradient: -(exp(d) - 1) / N = -0.4918247 / 2.
        expectClose(b.kl!.values, [0.0918246976412703, 0], "k3")
        expectClose(b.gradLogp[0, 0], -0.4918246976412703 / 2, "k3 grad")
    }

    @Test("sampler correction: token_truncate caps exp(old - sampler) at the cap")
    func samplerCorrection() throws {
        // old - sampler = log 5 -> rho = 5, capped at 3; log 0.5 -> 0.5 kept.
        var config = GRPOConfig()
        config.beta = 0
        config.vllmImportanceSamplingMode = .tokenTruncate
        let batch = Batch(groups: [Group(completions: [
            Completion(reward: 1, logp: [-1, -1], oldLogp: [-1, -1], samplerLogp: [-1 - log(5), -1 - log(0.5)]),
            Completion(reward: 0, logp: [-1], oldLogp: [-1], samplerLogp: [-1]),
        ])])
        let b = try Naive.breakdown(batch, config: config)
        expectClose(b.samplerWeight!.values, [3, 0.5, 1], "weights")
        config.vllmImportanceSamplingMode = .sequenceMask
        // sequence product 5 * 0.5 = 2.5 <= 3: kept whole.
        expectClose(try Vectorized.breakdown(batch, config: config).samplerWeight!.values, [2.5, 2.5, 1], "sequence")
    }
}
