import Testing
@testable import GRPO

/// The vectorized path against the naive one (the specification), on seeded random batches that
/// cover every option value, ragged and empty completions, on- and off-policy data, zero-variance
/// groups, sampler weights and ratios far outside the clip range.
@Suite("Naive and vectorized paths agree")
struct AgreementTests {
    /// Values agree to 1e-12 of their own size, or of the largest value in the array for entries
    /// that are sums with cancellation (GSPO tokens collect a shared term).
    /// Two NaNs agree (a group with too few rewards has no std on either path).
    /// `floor`: an absolute tolerance for values that are rounding noise around 0 (a mean of
    /// rewards that cancel, the std of equal rewards).
    func expectAgree(_ a: [Double], _ b: [Double], _ what: String, floor: Double = 0) {
        guard a.count == b.count else { Issue.record("\(what): \(a.count) vs \(b.count) values"); return }
        let finite = (a + b).filter(\.isFinite).map(abs)
        let scale = max(finite.max() ?? 0, floor * 1e13)
        for k in a.indices where !(a[k].isNaN && b[k].isNaN) && !close(a[k], b[k], relative: 1e-12, absolute: 1e-13 * scale + 1e-300) {
            Issue.record("\(what)[\(k)]: naive \(a[k]) vs vectorized \(b[k])")
            return
        }
    }

    /// Every quantity both paths compute. Cross-checked here (two implementations each): the
    /// advantages with their group means and stds, ratios, KL, the loss mask, the off-policy
    /// mask, the entropy mask, sampler weights, VESPO's phi, per-token losses, weights, the
    /// gradient, the policy loss, the entropy bonus, the loss and every metric. Shared by both
    /// paths and resting on golden values only (`TorchRules`): torch's float32 quantile rule, the
    /// float32 comparison and TRL's zero-std test.
    func compare(_ batch: Batch, _ config: GRPOConfig, _ label: String) throws {
        let n = try Naive.breakdown(batch, config: config)
        let v = try Vectorized.breakdown(batch, config: config)
        // The loss is a sum of many terms: compare against the size of those terms.
        let termScale = (0..<n.perTokenLoss.rowCount).reduce(0) { sum, i in sum + n.weight[i] * n.perTokenLoss[i].reduce(0) { $0 + abs($1) } }
            + abs(n.entropyBonus?.value ?? 0)
        #expect(abs(n.loss - v.loss) <= 1e-12 * max(termScale, abs(n.loss)) + 1e-300, "\(label) loss \(n.loss) vs \(v.loss)")
        #expect(abs(n.policyLoss - v.policyLoss) <= 1e-12 * max(termScale, abs(n.policyLoss)) + 1e-300,
                "\(label) policy loss \(n.policyLoss) vs \(v.policyLoss)")
        expectAgree(n.advantages, v.advantages, "\(label) advantages")
        // The mean and std of rewards that cancel are rounding noise: compare them at the rewards' size.
        let rewardScale = batch.completions.map { c in (c.rewardsPerFunction?.compactMap { $0 } ?? [c.reward]).map(abs).max() ?? 0 }
            .filter(\.isFinite).max() ?? 1
        expectAgree(n.groupMean, v.groupMean, "\(label) group mean", floor: 1e-15 * max(rewardScale, 1))
        expectAgree(n.groupStd, v.groupStd, "\(label) group std", floor: 1e-15 * max(rewardScale, 1))
        expectAgree(n.ratio.values, v.ratio.values, "\(label) ratio")
        #expect(n.lossMask?.values == v.lossMask?.values, "\(label) loss mask")
        #expect(n.offPolicyMask == v.offPolicyMask, "\(label) off-policy mask")
        // The branch is read from the ratio; what each path must do with it: a clipped or capped
        // token passes no policy gradient, so without a KL term (or a log-ratio penalty) its gradient is exactly 0.
        if config.objective == .clipMin && config.importanceSamplingLevel == .token && (config.beta == 0 || !batch.hasReference)
            && !batch.hasLogRatioPenalty {
            for row in 0..<v.ratio.rowCount {
                for t in 0..<(v.ratio.offsets[row + 1] - v.ratio.offsets[row]) where v.branch(row: row, token: t) != .unclipped {
                    #expect(v.gradLogp[row, t] == 0 && n.gradLogp[row, t] == 0, "\(label) row \(row) token \(t): clipped but moves")
                }
            }
        }
        // A token the loss does not count has no loss and no gradient on either path.
        if let mask = n.lossMask {
            for k in mask.values.indices where !mask.values[k] {
                #expect(n.perTokenLoss.values[k] == 0 && v.perTokenLoss.values[k] == 0 && n.gradLogp.values[k] == 0
                        && v.gradLogp.values[k] == 0, "\(label) masked token \(k) moves")
            }
        }
        #expect((n.kl == nil) == (v.kl == nil), "\(label) kl presence")
        if let nk = n.kl, let vk = v.kl { expectAgree(nk.values, vk.values, "\(label) kl") }
        #expect(n.entropyMask?.values == v.entropyMask?.values, "\(label) entropy mask")
        #expect((n.samplerWeight == nil) == (v.samplerWeight == nil), "\(label) sampler weight presence")
        if let ns = n.samplerWeight, let vs = v.samplerWeight { expectAgree(ns.values, vs.values, "\(label) sampler weight") }
        #expect((n.vespoWeight == nil) == (v.vespoWeight == nil), "\(label) vespo weight presence")
        if let np = n.vespoWeight, let vp = v.vespoWeight { expectAgree(np, vp, "\(label) vespo phi") }
        #expect((n.entropyBonus == nil) == (v.entropyBonus == nil), "\(label) entropy bonus presence")
        if let nb = n.entropyBonus, let vb = v.entropyBonus {
            #expect(nb.tokens == vb.tokens, "\(label) entropy bonus tokens")
            expectAgree([nb.entropy, nb.value], [vb.entropy, vb.value], "\(label) entropy bonus")
            expectAgree(n.entropyGradient!.values, v.entropyGradient!.values, "\(label) entropy gradient")
        }
        expectAgree(n.perTokenLoss.values, v.perTokenLoss.values, "\(label) per-token loss")
        expectAgree(n.weight, v.weight, "\(label) weight")
        expectAgree(n.gradLogp.values, v.gradLogp.values, "\(label) grad")
        #expect(n.metrics.named.map(\.name) == v.metrics.named.map(\.name), "\(label) metric names")
        expectAgree(n.metrics.named.map(\.value), v.metrics.named.map(\.value), "\(label) metrics")
    }

    @Test("500 random batches, random options")
    func randomBatches() throws {
        var rng = SeededGenerator(seed: 2024)
        for k in 0..<500 {
            let reference = rng.integer(0, 3) != 0
            let batch = randomBatch(&rng, reference: reference, entropy: true, logRatioScale: nil)
            let config = randomConfig(&rng, reference: reference, for: batch)
            try compare(batch, config, "batch \(k)")
        }
    }

    @Test("given advantages: both paths agree, and giving the ones the rewards make changes nothing")
    func givenAdvantages() throws {
        var rng = SeededGenerator(seed: 77)
        for k in 0..<200 {
            let reference = rng.integer(0, 3) != 0
            var batch = randomBatch(&rng, reference: reference)
            let config = randomConfig(&rng, reference: reference, for: batch)
            // The advantages the batch's rewards give, written into the completions.
            let fromRewards = try Vectorized.breakdown(batch, config: config)
            var given = batch
            var row = 0
            for g in given.groups.indices {
                for i in given.groups[g].completions.indices {
                    given.groups[g].completions[i].advantage = fromRewards.advantages[row]
                    given.groups[g].completions[i].reward = .nan  // ignored when advantages are given
                    row += 1
                }
            }
            let v = try Vectorized.breakdown(given, config: config)
            #expect(v.loss == fromRewards.loss && v.gradLogp == fromRewards.gradLogp, "batch \(k): same loss and gradient")
            #expect(v.groupMean.isEmpty && v.groupStd.isEmpty && v.metrics.fracRewardZeroStd == nil)
            try compare(given, config, "given batch \(k)")
            // Arbitrary advantages, and groups of one completion: the group-relative step is gone.
            for g in batch.groups.indices {
                batch.groups[g].completions = [batch.groups[g].completions[0]]
                batch.groups[g].completions[0].advantage = rng.normal()
            }
            try compare(batch, config, "one-completion groups \(k)")
        }
    }

    /// Numbers tried for every option besides its listed values: each option takes those its
    /// range and the other defaults allow (delta above 1 + epsilon, sampler bounds below and
    /// above 1, lengths from 1 up).
    static let probeValues = ["0", "0.2", "0.9", "1", "1.5", "3", "8"]

    @Test("every value of every option, on the same batches, and real numbers for options whose default is none",
          arguments: GRPOConfig.options.map(\.key))
    func everyOptionValue(key: String) throws {
        var rng = SeededGenerator(seed: UInt64(key.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
        let option = GRPOConfig.option(named: key)!
        var values = option.suggestions
        // A list (reward_weights) needs one weight per reward function: the random batches' two.
        for probe in option.kind == .numberList ? ["1,0.5", "0.25,2"] : Self.probeValues where !values.contains(probe) {
            values.append(probe)
        }
        var tried: [String] = []
        for value in values {
            var config = GRPOConfig()
            guard (try? config.set(key, to: value)) != nil else { continue }
            // VESPO takes the token sampler modes only (TRL refuses its default sequence_mask).
            if config.objective.foldsSamplerWeight { config.vllmImportanceSamplingMode = .tokenTruncate }
            let probe = !option.suggestions.contains(value)
            for k in 0..<(probe ? 4 : 10) {
                let batch = randomBatch(&rng, maxLength: 5)
                // A probe the other defaults refuse (clip_min 3 with clip_max 3) is not a value to try.
                if probe, (try? batch.validate(for: config)) == nil { break }
                try compare(batch, config, "\(key)=\(value) batch \(k)")
                if k == 0 { tried.append(config.settings.first { $0.key == key }?.value ?? value) }
            }
        }
        // Every option is tried at two values at least: its default and another.
        #expect(Set(tried).count >= 2, "\(key): only \(tried)")
    }

    @Test("large batch: the parallel kernel agrees with the naive loops")
    func largeBatch() throws {
        var rng = SeededGenerator(seed: 7)
        // 48 x 4 completions of up to 400 tokens: over the parallel threshold.
        let batch = randomBatch(&rng, groups: 48, groupSize: 4, maxLength: 400)
        #expect(batch.tokenCount >= Vectorized.parallelThreshold)
        for preset in [Preset.deepseekmath, .gspo] {
            try compare(batch, preset.config, "preset \(preset.rawValue)")
        }
    }

    @Test("disagreement scales each quantity by its own size: a 5e-10 gradient error on 1e-3 gradients is caught")
    func disagreementPerQuantity() throws {
        // 500 tokens: d loss / d logp is about A / N = 0.707 / 1000 per token, the loss about 1e-16.
        let batch = Batch(groups: [Group(completions: [Completion(reward: 1, logp: Array(repeating: -1, count: 500)),
                                                       Completion(reward: 0, logp: Array(repeating: -1, count: 500))])])
        var config = GRPOConfig()
        config.beta = 0
        let n = try Naive.breakdown(batch, config: config), v = try Vectorized.breakdown(batch, config: config)
        #expect(n.disagreement(with: v) == nil)
        var off = v
        off.gradLogp.values[7] += 5e-10
        // Within 1e-9 of the loss's size (the old rule, 1e-9 * max(1, |loss|)), but 5e-10 / 7.07e-4 = 7e-7 of the gradient's.
        #expect(n.maxDifference(from: off) <= 1e-9 * max(1, abs(n.loss)))
        let found = n.disagreement(with: off)
        #expect(found?.quantity == "d loss / d logp" && found.map { abs($0.difference - 5e-10) < 1e-16 } == true, "\(String(describing: found))")
    }

    @Test("lossAndGradient equals the breakdown's loss and gradient")
    func lossAndGradient() throws {
        var rng = SeededGenerator(seed: 99)
        for _ in 0..<50 {
            let batch = randomBatch(&rng)
            let config = randomConfig(&rng, for: batch)
            let full = try Vectorized.breakdown(batch, config: config)
            var grad: [Double] = []
            let loss = try Vectorized.lossAndGradient(FlatBatch(batch), advantages: full.advantages, config: config, gradient: &grad)
            #expect(loss == full.loss)
            #expect(grad == full.gradLogp.values)
        }
    }
}
