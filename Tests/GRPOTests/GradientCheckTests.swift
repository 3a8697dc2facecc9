import Foundation
import Testing
@testable import GRPO

/// Both gradients against central finite differences of the loss:
/// d loss / d logp_t ~ (loss(logp_t + h) - loss(logp_t - h)) / 2h.
///
/// CISPO and VESPO detach their weights (min(r, eps_high), phi(w)): the gradient they define is
/// not the derivative of the loss, which also moves through the weights. It is the derivative
/// with every ratio held fixed, which is what moving logp_t, old_logp_t and sampler_logp_t
/// together by h gives: r_t, the sequence ratios, the sampler weights and the off-policy mask
/// (all functions of differences) stay put, and only the explicit logp factor and the KL term
/// (a function of ref_logp - logp) move. That holds when the KL does not reach logp through the
/// ratio too, so those objectives are checked without the bias correction; the bias-corrected
/// KL's own path is checked under the objectives without a stop-gradient.
@Suite("Gradients match central finite differences")
struct GradientCheckTests {
    let h = 1e-5

    /// The loss with one token's logp moved by `shift` (and its old and sampler log-probs too
    /// when `holdingRatios`).
    func loss(_ batch: Batch, _ config: GRPOConfig, row: Int, token: Int, shift: Double, holdingRatios: Bool) throws -> Double {
        var moved = batch
        var k = row
        for g in moved.groups.indices {
            if k < moved.groups[g].completions.count {
                moved.groups[g].completions[k].logp[token] += shift
                if holdingRatios {
                    moved.groups[g].completions[k].oldLogp[token] += shift
                    moved.groups[g].completions[k].samplerLogp?[token] += shift
                }
                break
            }
            k -= moved.groups[g].completions.count
        }
        return try Naive.breakdown(moved, config: config).loss
    }

    /// True when a ratio sits within the finite-difference step of a kink (clip ends, delta),
    /// where the one-sided slopes differ and no derivative exists.
    func nearKink(_ r: Double, _ config: GRPOConfig) -> Bool {
        var kinks = [1 - config.epsilon, 1 + config.resolvedEpsilonHigh]
        if let delta = config.delta { kinks.append(delta) }
        if let c = config.logRatioClamp { kinks += [exp(-c), exp(c)] }
        if let cap = config.sequenceLogRatioCap { kinks.append(exp(cap)) }
        return kinks.contains { abs(r - $0) < 1e-4 }
    }

    /// True when a completion's mean (sampler or old - current) log-prob gap is within a step of
    /// the off-policy mask's threshold, where the mask can flip under the finite difference.
    func nearMaskThreshold(_ c: Completion, counted: [Bool], _ config: GRPOConfig) -> Bool {
        guard let limit = config.offPolicyMaskThreshold else { return false }
        let reference = c.samplerLogp ?? c.oldLogp
        let tokens = c.logp.indices.filter { counted[$0] }
        let gap = tokens.reduce(0.0) { $0 + reference[$1] - c.logp[$1] } / Double(max(tokens.count, 1))
        return abs(gap - limit) < 1e-4
    }

    /// Whether the objective's weights are detached (the gradient holds the ratios fixed).
    static func detaches(_ objective: GRPOConfig.PolicyObjective) -> Bool {
        switch objective {
        case .cispo, .vespo, .dppoTV, .dppoKL: true
        case .clipMin, .sapo, .reinforce, .dro, .geoMean, .unclipped: false
        }
    }

    @Test("random batches, random options, both paths", arguments: GRPOConfig.PolicyObjective.allCases)
    func randomBatches(objective: GRPOConfig.PolicyObjective) throws {
        var rng = SeededGenerator(seed: 31)
        var checked = 0
        var tolerances: [Double] = []
        for _ in 0..<40 {
            var batch = randomBatch(&rng, maxLength: 4)
            var config = randomConfig(&rng, for: batch)
            config.policyObjective = objective
            if config.objective.foldsSamplerWeight { config.vllmImportanceSamplingMode = .tokenTruncate }
            // The straight-through KL's gradient and verl's per-token GSPO gradient are not their
            // values' derivatives (their own tests below).
            config.klStraightThrough = false
            config.sequenceRatioGradient = .shared
            let holding = Self.detaches(config.objective)
            // Holding the ratios also holds the log-ratio penalty's |logp - old_logp| (its own test below).
            if holding { config.useBiasCorrectionKL = false; batch = withoutPenalties(batch) }
            let naive = try Naive.breakdown(batch, config: config)
            let vectorized = try Vectorized.breakdown(batch, config: config)
            for (i, c) in batch.completions.enumerated() {
                let counted = Naive.lossMask(c, config: config)
                // A sequence ratio moves with every token of its row: skip the whole row near a kink.
                if !holding && naive.ratio[i].contains(where: { nearKink($0, config) }) { continue }
                // GMPO clips each token's log-ratio inside its mean: kinks at -eps and eps_high.
                if config.objective == .geoMean && zip(c.logp, c.oldLogp).contains(where: { x, old in
                    [-config.epsilon, config.resolvedEpsilonHigh].contains { abs(x - old - $0) < 1e-4 }
                }) { continue }
                if nearMaskThreshold(c, counted: counted, config) { continue }
                // The log-ratio penalty's kink: |logp - old_logp| at 0 (exactly 0 on-policy, where both sides agree).
                if let k = c.logRatioPenalty, c.logp.indices.contains(where: { k[$0] != 0 && abs(c.logp[$0] - c.oldLogp[$0]) < 1e-4 && c.logp[$0] != c.oldLogp[$0] }) { continue }
                for t in 0..<c.length {
                    // Each moved loss is off by up to its rounding bound (VESPO's weights can make it large).
                    let numeric = try CentralDifference(h: h, rounding: naive.lossRoundingBound) { shift in
                        try loss(batch, config, row: i, token: t, shift: shift, holdingRatios: holding)
                    }
                    #expect(numeric.agrees(with: naive.gradLogp[i, t]),
                            "naive grad [\(i), \(t)] \(naive.gradLogp[i, t]) vs finite difference \(numeric.value) +- \(numeric.tolerance)")
                    #expect(numeric.agrees(with: vectorized.gradLogp[i, t]),
                            "vectorized grad [\(i), \(t)] \(vectorized.gradLogp[i, t]) vs finite difference \(numeric.value) +- \(numeric.tolerance)")
                    tolerances.append(numeric.tolerance / max(1, abs(numeric.value)))
                    checked += 1
                }
            }
        }
        #expect(checked > 150)
        // The derived bounds are far tighter than the fixed 1e-6 * max(1, |g|) they replace.
        let sorted = tolerances.sorted()
        #expect(sorted[sorted.count / 2] < 1e-8, "median relative tolerance \(sorted[sorted.count / 2])")
    }

    @Test("straight-through KL: the loss of the estimator, the gradient of k2, on both paths",
          arguments: GRPOConfig.KLEstimator.allCases)
    func straightThroughKL(estimator: GRPOConfig.KLEstimator) throws {
        var rng = SeededGenerator(seed: 37)
        for _ in 0..<30 {
            let batch = randomBatch(&rng, maxLength: 4)
            var config = randomConfig(&rng, for: batch)
            config.klEstimator = estimator
            config.beta = 0.5
            config.useBiasCorrectionKL = false  // verl has none; with it, k r's gradient adds the value
            config.klStraightThrough = true
            var plain = config
            plain.klStraightThrough = false
            var k2 = plain
            k2.klEstimator = .k2
            k2.klClamp = false
            for path in [Naive.breakdown, Vectorized.breakdown] as [(Batch, GRPOConfig) throws -> Breakdown] {
                let straight = try path(batch, config), value = try path(batch, plain), gradient = try path(batch, k2)
                expectClose(straight.loss, value.loss, relative: 1e-12)
                for (x, y) in zip(straight.gradLogp.values, gradient.gradLogp.values) { expectClose(x, y, relative: 1e-12) }
            }
        }
    }

    @Test("verl's per-token GSPO gradient equals TRL's shared one when every token of a row weighs alike, on both paths")
    func perTokenSequenceGradient() throws {
        // Shared: token t gets w s / m_i * sum_u dL_u/ds = w s dL/ds (the m_i terms are alike);
        // per token: w s dL_t/ds, the same. No entropy mask, no sampler weights, no bias-corrected
        // KL (k_u s / m_i summed is not k_t s), so nothing makes tokens of a row differ.
        var rng = SeededGenerator(seed: 41)
        var compared = 0
        for _ in 0..<60 {
            var batch = randomBatch(&rng, maxLength: 5)
            // Given per-token weights are exactly what makes the two forms differ.
            for g in batch.groups.indices { for i in batch.groups[g].completions.indices { batch.groups[g].completions[i].policyWeight = nil } }
            var config = randomConfig(&rng, for: batch)
            config.importanceSamplingLevel = .sequence
            config.topEntropyQuantile = 1
            config.vllmImportanceSamplingCorrection = false
            config.useBiasCorrectionKL = false
            config.sequenceRatioGradient = .shared
            var perToken = config
            perToken.sequenceRatioGradient = .perToken
            for path in [Naive.breakdown, Vectorized.breakdown] as [(Batch, GRPOConfig) throws -> Breakdown] {
                let shared = try path(batch, config), verl = try path(batch, perToken)
                expectClose(verl.loss, shared.loss, relative: 1e-12)
                expectClose(verl.gradLogp.values, shared.gradLogp.values, relative: 1e-10, absolute: 1e-12, "\(config.objective)")
                compared += 1
            }
        }
        #expect(compared == 120)
    }

    @Test("a detached weight: the plain finite difference is not CISPO's gradient, the one holding the ratio is")
    func detachedIsNotTheDerivative() throws {
        // One token, r = exp(-0.5 + 0.9) = e^0.4 = 1.4918 below the cap 5, A = +0.7071 (rewards 1, 0;
        // G = 2, std = 0.7071). loss = -(r A logp) / N with N = 2 tokens. The detached gradient is
        // -r A / 2 = -0.5274; the loss's own derivative adds -(r A logp) / 2 (d r / d logp = r):
        // -0.5274 - 0.5274 * (-0.5) = -0.2637.
        var config = GRPOConfig()
        config.lossType = .cispo
        config.epsilonHigh = 5
        config.beta = 0
        let batch = Batch(groups: [Group(completions: [
            Completion(reward: 1, logp: [-0.5], oldLogp: [-0.9]), Completion(reward: 0, logp: [-1], oldLogp: [-1]),
        ])])
        let b = try Vectorized.breakdown(batch, config: config)
        let r: Double = exp(0.4)
        let a: Double = 0.5 / (2.0.squareRoot() / 2 + 1e-4)
        expectClose(b.gradLogp[0, 0], -r * a / 2, relative: 1e-12, "detached gradient")
        let up = try loss(batch, config, row: 0, token: 0, shift: h, holdingRatios: false)
        let down = try loss(batch, config, row: 0, token: 0, shift: -h, holdingRatios: false)
        let plain = (up - down) / (2 * h)
        let expected: Double = -r * a / 2 + r * a * 0.5 / 2
        expectClose(plain, expected, relative: 1e-6, "the loss's derivative")
        #expect(abs(plain - b.gradLogp[0, 0]) > 0.2)
    }

    /// The batch with no log-ratio penalty.
    func withoutPenalties(_ batch: Batch) -> Batch {
        var out = batch
        for g in out.groups.indices { for i in out.groups[g].completions.indices { out.groups[g].completions[i].logRatioPenalty = nil } }
        return out
    }
}
