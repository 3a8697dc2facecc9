#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// verl 0.9.1's actor loss in the composed terms: the one table from verl's option words to
/// `GRPOConfig`. verl's actor computes (`verl/workers/utils/losses.py`, `ppo_loss`)
///
///     loss = agg(pg_loss of loss_mode)  -  entropy_coeff * agg(entropy)  +  kl_loss_coef * agg(kl_penalty)
///
/// with agg = `loss_agg_mode` over the batch's loss tokens, one mini-batch on one GPU (dp_size
/// 1, the batch's tokens and completions as the global batch info). Lesson 14.
extension VerlOptions {
    /// The loss options that compute what verl's actor backpropagates, for a batch whose
    /// responses are padded to `paddedWidth` tokens (`max_response_length`, or the longest
    /// completion). Refuses what verl refuses (with verl's reason) and what is not computed
    /// here yet (saying so).
    public func lossConfig(paddedWidth: Int) throws(ConfigError) -> GRPOConfig {
        var c = GRPOConfig()
        c.lossAggMode = lossAggMode
        c.countDivisor = .plusEpsilon
        if let factor = lossScaleFactor, !(factor > 0) {
            throw ConfigError("loss_scale_factor must be > 0 or null, not \(factor.optionText): seq-mean-token-sum-norm divides by it")
        }
        c.lossScaleFactor = lossScaleFactor ?? Double(maxResponseLength ?? paddedWidth)
        c.logRatioClamp = 20
        try c.set("epsilon", to: resolvedClipRatioLow.optionText, as: clipRatioLow == nil ? "clip_ratio" : "clip_ratio_low")
        try c.set("epsilon_high", to: resolvedClipRatioHigh.optionText, as: clipRatioHigh == nil ? "clip_ratio" : "clip_ratio_high")
        switch lossMode {
        case .vanilla:
            // verl asserts clip_ratio_c > 1 in vanilla (and only there).
            guard clipRatioC > 1 else {
                throw ConfigError("clip_ratio_c must be > 1 for dual-clip PPO (verl asserts it), not \(clipRatioC.optionText)")
            }
            c.lossType = .grpo
            try c.set("delta", to: clipRatioC.optionText, as: "clip_ratio_c")
            c.deltaForm = .dualClip
        case .cispo:
            c.lossType = .cispo
            c.cispoClip = .range
        case .gspo:
            // One ratio per sequence, verl's per-token gradient form, its log capped at 10 (and
            // no clamp of the token log-ratios, no dual clip).
            c.lossType = .grpo
            c.importanceSamplingLevel = .sequence
            c.sequenceRatioGradient = .perToken
            c.sequenceLogRatioCap = 10
            c.logRatioClamp = nil
        case .sapo:
            // SAPO's gate; its policy term is always seq-mean-token-mean in verl, while the KL
            // and entropy terms follow loss_agg_mode.
            c.lossType = .sapo
            try c.set("sapo_temperature_pos", to: tauPos.optionText, as: "tau_pos")
            try c.set("sapo_temperature_neg", to: tauNeg.optionText, as: "tau_neg")
            c.policyAggMode = .sequenceMeanTokenMean
        case .gpg:
            c.policyObjective = .reinforce
            c.logRatioClamp = nil  // the ratio is not used
        case .dro:
            guard let beta = droBeta, beta > 0 else {
                throw ConfigError("policy_loss.dro_beta must be a positive value when using DRO (verl's check), not \(droBeta.map(\.optionText) ?? "null")")
            }
            c.policyObjective = .dro
            try c.set("dro_beta", to: beta.optionText, as: "dro_beta")
            c.logRatioClamp = nil  // its penalty takes the raw log-ratio
        case .dppoTV, .dppoKL:
            c.policyObjective = lossMode == .dppoTV ? .dppoTV : .dppoKL
            // clip_ratio_c caps DPPO's detached weight min(r, clip_ratio_c).
            try c.set("delta", to: clipRatioC.optionText, as: "clip_ratio_c")
        case .bypassMode:
            // The rollout engine's log-probs are old_logp (`lossInputs`); ppo_clip is vanilla on
            // that ratio, reinforce is -A logp (times the rollout_is weights).
            switch lossType {
            case "ppo_clip":
                guard clipRatioC > 1 else {
                    throw ConfigError("clip_ratio_c must be > 1 for dual-clip PPO (verl asserts it), not \(clipRatioC.optionText)")
                }
                c.lossType = .grpo
                try c.set("delta", to: clipRatioC.optionText, as: "clip_ratio_c")
                c.deltaForm = .dualClip
            case "reinforce":
                c.policyObjective = .reinforce
                c.logRatioClamp = nil
            default:
                throw ConfigError("Invalid loss_type: \(lossType). Must be 'reinforce' or 'ppo_clip' (verl's check of bypass_mode)")
            }
        case .geoMean:
            // Its clip acts inside the per-sequence mean; the policy term is a plain mean over
            // completions (torch.mean), the KL and entropy follow loss_agg_mode. rollout_is's
            // weights become one per sequence (`geometricMeanWeight`, in `lossInputs`).
            c.policyObjective = .geoMean
            c.policyAggMode = .sequenceMean
            c.logRatioClamp = nil
        case .clipCov:
            // Clip and min (no dual clip, no log-ratio clamp); some tokens' policy term dropped
            // (`clipCovKeep`, applied in `lossInputs`).
            c.lossType = .grpo
            c.logRatioClamp = nil
        case .klCov:
            // r A with no clip and no clamp; a few tokens get + ppo_kl_coef |log r|
            // (`klCovPenalty`, applied in `lossInputs`).
            guard klCovRatio > 0 else { throw ConfigError("kl_cov_ratio should be larger than 0 (verl asserts it), not \(klCovRatio.optionText)") }
            guard klCovRatio <= 1 else {
                throw ConfigError("kl_cov_ratio \(klCovRatio.optionText) would pick more tokens than the batch has (torch.topk fails in verl); at most 1")
            }
            c.policyObjective = .unclipped
            c.logRatioClamp = nil
        }
        c.useBiasCorrectionKL = false
        c.vllmImportanceSamplingCorrection = false  // verl's correction is rollout_is / rollout_rs
        c.beta = useKLLoss ? klLossCoef : 0
        switch klLossType {
        case .kl, .k1: c.klEstimator = .k1
        case .abs: c.klEstimator = .abs
        case .mse, .k2: c.klEstimator = .k2
        case .lowVarKL, .k3:
            c.klEstimator = .k3
            c.klClamp = true
        case .full:
            // verl reads kl_loss_type only with use_kl_loss.
            if useKLLoss { throw ConfigError("kl_loss_type full is not implemented in verl 0.9.1 either") }
        }
        c.klStraightThrough = klStraightThrough
        // - entropy_coeff * agg(entropy): aggregated as the loss is (the entropies are data).
        try c.set("entropy_coef", to: entropyCoeff.optionText, as: "entropy_coeff")
        c.entropyAggregation = .lossAggregation
        // The advantages come from `VerlAdvantages`, given to the loss per completion.
        c.scaleRewards = normAdvByStdInGRPO ? .group : .none
        c.stdEpsilon = 1e-6
        return c
    }


    func notYet(_ what: String) -> String {
        "\(what): verl 0.9.1 has it, grpo-swift does not compute it yet"
    }

    /// A refusal for a number verl decides inside torch in a way this cannot reproduce (a random
    /// draw, the order of ties, float32 rounding noise), so none is given rather than a guess.
    func notReproducible(_ what: String) -> String {
        "\(what): verl 0.9.1 decides it inside torch, which cannot be reproduced here, so grpo-swift does not compute it"
    }
}

extension VerlOptions {
    /// The batch and loss options as verl's actor sees them, in the trainer's order: the rollout
    /// correction's weights (`VerlRolloutCorrection`) and rejection (`VerlRejectionSampling`,
    /// which narrows each completion's mask), then the advantages of `adv_estimator` from the
    /// groups' rewards over the narrowed masks (or as the batch gives them: a dumped mini-batch
    /// carries verl's), set on each completion; responses padded to `max_response_length` or the
    /// longest one. `VerlMetrics` takes the batch as given (the response masks before rejection).
    ///
    /// `path` picks whose implementation of the advantage estimator runs (`VerlAdvantages.advantages`
    /// or `vectorizedAdvantages`), so that each loss path reads its own.
    public func lossInputs(_ batch: Batch, path: VerlAdvantages.Path = .naive) throws(ConfigError) -> (batch: Batch, config: GRPOConfig) {
        if useKLLoss && !batch.hasReference {
            throw ConfigError("use_kl_loss is true but no completion has ref_logp (verl's ref_log_prob); give ref_logp or set use_kl_loss false")
        }
        if reportsEntropy && !batch.hasEntropy {
            throw ConfigError("entropy_coeff or calculate_entropy: verl's actor then computes each token's entropy; give \"entropy\" for every completion")
        }
        // rollout_log_probs alone change nothing in the loss (only the rollout_corr/* metrics,
        // `VerlMetrics.offPolicyMetrics`); rollout_is turns them into the policy term's weights.
        let width = batch.completions.map(\.length).max() ?? 1
        if let maxResponseLength, width > maxResponseLength {
            throw ConfigError("a completion has \(width) tokens, more than max_response_length=\(maxResponseLength)")
        }
        let config = try lossConfig(paddedWidth: max(width, 1))
        var batch = batch
        if lossMode == .bypassMode { return try bypassInputs(batch, config: config, path: path) }
        if rolloutIS != nil || rolloutRS != nil {
            guard batch.hasSampler else {
                throw ConfigError("rollout_is and rollout_rs need the rollout engine's log-probs: give sampler_logp (verl's rollout_log_probs) for every completion")
            }
            let weights = try VerlRolloutCorrection.weights(batch, options: self).weights
            let masks = try VerlRejectionSampling.rejection(batch, options: self).masks
            var row = 0
            for g in batch.groups.indices {
                for i in batch.groups[g].completions.indices {
                    if masks[row].contains(false) { batch.groups[g].completions[i].mask = masks[row] }
                    if rolloutIS != nil {
                        let c = batch.groups[g].completions[i]
                        batch.groups[g].completions[i].policyWeight = lossMode == .geoMean
                            ? Self.geometricMeanWeight(weights[row], counted: (0..<c.length).map { c.mask?[$0] ?? true }) : weights[row]
                    }
                    row += 1
                }
            }
        }
        batch = try withAdvantages(batch, path: path)
        // The covariance choices read the advantages: after them, as verl's loss does.
        switch lossMode {
        case .clipCov:
            let keep = try clipCovKeep(batch, config: config)
            var row = 0
            for g in batch.groups.indices {
                for i in batch.groups[g].completions.indices {
                    let w = batch.groups[g].completions[i].policyWeight ?? keep[row].map { _ in 1 }
                    batch.groups[g].completions[i].policyWeight = zip(w, keep[row]).map { $0 * $1 }
                    row += 1
                }
            }
        case .klCov:
            let penalty = try klCovPenalty(batch)
            var row = 0
            for g in batch.groups.indices {
                for i in batch.groups[g].completions.indices {
                    batch.groups[g].completions[i].logRatioPenalty = penalty[row]
                    row += 1
                }
            }
        default:
            break
        }
        return (batch, config)
    }

    /// geo_mean's one weight per sequence from rollout_is's token weights w_t: their geometric
    /// mean over the m counted tokens, exp(sum_t log(w_t + 1e-10) / (m + 1e-8)), at every token
    /// (so the policy term's token mean is that weight times -A s).
    static func geometricMeanWeight(_ weights: [Double], counted: [Bool]) -> [Double] {
        var logSum = 0.0, m = 0.0
        for t in weights.indices where counted[t] {
            logSum += log(weights[t] + 1e-10)
            m += 1
        }
        return [Double](repeating: exp(logSum / (m + 1e-8)), count: weights.count)
    }

    /// The batch with `adv_estimator`'s advantages over its (possibly narrowed) masks, or as it
    /// gives them.
    func withAdvantages(_ batch: Batch, path: VerlAdvantages.Path) throws(ConfigError) -> Batch {
        if batch.hasGivenAdvantages { return batch }
        // Several reward functions: gdpo's input (a null reward verl cannot take).
        var perFunction: [[[Double]]] = []
        if let functions = batch.completions.first?.rewardsPerFunction?.count {
            guard advEstimator == "gdpo" else { throw ConfigError("rewards_per_func: only adv_estimator gdpo takes several reward functions") }
            guard batch.completions.allSatisfy({ $0.rewardsPerFunction?.allSatisfy { $0 != nil } ?? false }) else {
                throw ConfigError("rewards_per_func: a null reward, which verl's reward keys cannot hold")
            }
            perFunction = (0..<functions).map { k in batch.groups.map { $0.completions.map { $0.rewardsPerFunction![k]! } } }
        }
        let counted = batch.groups.map { $0.completions.map { c in (0..<c.length).map { c.mask?[$0] ?? true } } }
        let rewards = batch.groups.map { $0.completions.map(\.reward) }
        let advantages: [Double]
        switch path {
        case .naive:
            advantages = try VerlAdvantages.advantages(rewards: rewards, counted: counted, perFunction: perFunction, options: self).flatMap { $0 }
        case .vectorized:
            advantages = try VerlAdvantages.vectorizedAdvantages(.init(rewards: rewards, counted: counted, perFunction: perFunction), options: self)
        }
        var out = batch
        var row = 0
        for g in out.groups.indices {
            for i in out.groups[g].completions.indices {
                out.groups[g].completions[i].advantage = advantages[row]
                row += 1
            }
        }
        return out
    }
}

extension VerlOptions {
    /// `bypass_mode`: verl skips the separate old-policy pass and takes the rollout engine's
    /// log-probs as old_logp; its rollout correction then compares the current logp with them
    /// (`rolloutCorrectionView`), and only `reinforce` applies the weights (detached: data here).
    func bypassInputs(_ batch: Batch, config: GRPOConfig, path: VerlAdvantages.Path) throws(ConfigError) -> (batch: Batch, config: GRPOConfig) {
        guard batch.hasSampler else {
            throw ConfigError("bypass_mode takes old_logp from the rollout engine: give sampler_logp (verl's rollout_log_probs) for every completion")
        }
        let view = rolloutCorrectionView(batch)
        let weights = try VerlRolloutCorrection.weights(view, options: self).weights
        let rejected = rolloutRS == nil ? nil : try VerlRejectionSampling.rejection(view, options: self).masks
        let weighs = rolloutIS != nil && lossType == "reinforce"
        let rejects = rejected?.contains { $0.contains(false) } ?? false
        var out = batch
        var row = 0
        for g in out.groups.indices {
            for i in out.groups[g].completions.indices {
                let c = out.groups[g].completions[i]
                out.groups[g].completions[i].oldLogp = c.samplerLogp!
                let w = weighs ? weights[row] : [Double](repeating: 1, count: c.length)
                if rejects {
                    out.groups[g].completions[i].policyWeight = policyKeepWeights(w, keep: rejected![row],
                                                                                  counted: (0..<c.length).map { c.mask?[$0] ?? true })
                } else if weighs {
                    out.groups[g].completions[i].policyWeight = w
                }
                row += 1
            }
        }
        return (try withAdvantages(out, path: path), config)
    }

    /// bypass_mode's rejection acts inside the actor's loss: it narrows the policy term's mask
    /// to `keep`, while verl's token count (batch_num_tokens, taken before the loss) and the KL
    /// and entropy terms keep the full mask. As weights on the policy term: 0 at a rejected
    /// token, and under seq-mean-token-mean, whose per-sequence divisor is the narrowed count,
    /// (m + 1e-8) / (m_kept + 1e-8) at the others (m the row's counted tokens). A row with every
    /// token rejected gets 0 from its policy term, as verl's 0 / 1e-8.
    func policyKeepWeights(_ weights: [Double], keep: [Bool], counted: [Bool]) -> [Double] {
        var scale = 1.0
        if lossAggMode == .sequenceMeanTokenMean {
            let m = Double(counted.filter { $0 }.count), kept = Double(zip(keep, counted).filter { $0 && $1 }.count)
            scale = (m + 1e-8) / (kept + 1e-8)
        }
        return weights.indices.map { keep[$0] ? weights[$0] * scale : 0 }
    }

    /// The batch as verl's rollout correction reads it: in `bypass_mode` its "old" policy is the
    /// current one (logp against the rollout engine's); otherwise the batch itself.
    public func rolloutCorrectionView(_ batch: Batch) -> Batch {
        guard lossMode == .bypassMode else { return batch }
        var view = batch
        for g in view.groups.indices {
            for i in view.groups[g].completions.indices { view.groups[g].completions[i].oldLogp = view.groups[g].completions[i].logp }
        }
        return view
    }
}

extension GRPOConfig {
    /// `set(key, to:)` for a value that came from verl's option `verlName`: a refusal names
    /// verl's option, not ours.
    mutating func set(_ key: String, to text: String, as verlName: String) throws(ConfigError) {
        do throws(ConfigError) { try set(key, to: text) } catch {
            throw ConfigError(error.message.hasPrefix(key) ? verlName + error.message.dropFirst(key.count) : "\(verlName): \(error.message)")
        }
    }
}
