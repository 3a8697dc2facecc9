/// Why a batch cannot go through the loss, naming the group, completion and field.
public struct BatchError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Batch {
    /// Checks what the loss needs: G >= 2 and equal in every group (any G >= 1 when the
    /// advantages are given, as verl's groups by uid may differ in size), per-token arrays and masks of one length, finite numbers, one reward per
    /// function everywhere (as many as `reward_weights`), reference log-probs when beta != 0,
    /// entropies when top_entropy_quantile < 1 or entropy_coef != 0, lengths within
    /// max_completion_length for dr_grpo, and no combination TRL refuses.
    public func validate(for config: GRPOConfig) throws(BatchError) {
        try validateShape(for: config)
        try validateTokenValues()
    }

    /// Everything `validate` checks except that the per-token values are finite: one look at each
    /// completion, not at each token. `Vectorized.breakdown` checks the values in its own pass.
    func validateShape(for config: GRPOConfig) throws(BatchError) {
        guard !groups.isEmpty else { throw BatchError("the batch has no groups") }
        let g = groupSize
        try requireAllOrNone(\.advantage, "advantage")
        try requireAllOrNone(\.rewardsPerFunction, "rewards_per_func")
        let givenAdvantages = hasGivenAdvantages
        let functionCount = try rewardFunctionCount(for: config)
        for (gi, group) in groups.enumerated() {
            let at = "group \(gi)"
            guard !group.completions.isEmpty else { throw BatchError("\(at) has no completions") }
            guard givenAdvantages || group.completions.count >= 2 else {
                throw BatchError("\(at) has \(group.completions.count) completion(s); GRPO needs G >= 2 (or give each completion's advantage)")
            }
            guard givenAdvantages || group.completions.count == g else {
                throw BatchError("\(at) has \(group.completions.count) completions but group 0 has \(g); all groups need the same G")
            }
            for (ci, c) in group.completions.enumerated() {
                let here = "\(at), completion \(ci)"
                if let a = c.advantage {
                    guard a.isFinite else { throw BatchError("\(here): advantage is \(a), not a finite number") }
                } else if let rewards = c.rewardsPerFunction {
                    guard rewards.count == functionCount else {
                        throw BatchError("\(here): rewards_per_func has \(rewards.count) values but completion 0 has \(functionCount)")
                    }
                    if let f = rewards.firstIndex(where: { $0.map { !$0.isFinite } ?? false }) {
                        throw BatchError("\(here): rewards_per_func[\(f)] is \(rewards[f]!), not a finite number (null marks an unscorable one)")
                    }
                } else {
                    guard c.reward.isFinite else { throw BatchError("\(here): reward is \(c.reward), not a finite number") }
                }
                for (field, values) in c.tokenFields where values.count != c.length {
                    throw BatchError("\(here): \(field.rawValue) has \(values.count) values but logp has \(c.length)")
                }
                if let mask = c.mask, mask.count != c.length {
                    throw BatchError("\(here): mask has \(mask.count) values but logp has \(c.length)")
                }
                if Self.dividesByMaxCompletionLength(config) && c.length > config.maxCompletionLength {
                    throw BatchError("\(here) has \(c.length) tokens, more than max_completion_length=\(config.maxCompletionLength) that \(config.lossType.rawValue) divides by")
                }
            }
        }
        try requireAllOrNone(\.refLogp, "ref_logp")
        try requireAllOrNone(\.samplerLogp, "sampler_logp")
        try requireAllOrNone(\.policyWeight, "policy_weight")
        try requireAllOrNone(\.logRatioPenalty, "log_ratio_penalty")
        if let (g, i, t) = firstNegative(\.policyWeight) {
            throw BatchError("group \(g), completion \(i): policy_weight[\(t)] is below 0; an importance weight is >= 0")
        }
        if config.beta != 0 && !hasReference {
            throw BatchError("beta is \(config.beta) but no completion has ref_logp; give ref_logp or set beta=0")
        }
        if usesSamplerCorrection(config) { try config.validateSamplerCorrection() }
        if config.topEntropyQuantile < 1 && !hasEntropy {
            throw BatchError("top_entropy_quantile is \(config.topEntropyQuantile) but not every completion has entropy")
        }
        if config.entropyCoef != 0 && !hasEntropy {
            throw BatchError("entropy_coef is \(config.entropyCoef) but not every completion has entropy")
        }
    }

    /// True when the aggregation divides by max_completion_length (dr_grpo, no
    /// `loss_scale_factor`), so no completion may be longer.
    static func dividesByMaxCompletionLength(_ config: GRPOConfig) -> Bool {
        switch config.aggregation {
        case .constantNormalizer: config.lossScaleFactor == nil
        case .sequenceMeanTokenMean, .tokenMean, .sequenceMeanTokenSum, .tokenSum, .sequenceMean: false
        }
    }

    /// A field every completion gives, or none does.
    private func requireAllOrNone<T>(_ field: KeyPath<Completion, T?>, _ name: String) throws(BatchError) {
        let count = completions.filter { $0[keyPath: field] != nil }.count
        if count != 0 && count != completionCount {
            throw BatchError("\(name) is given for \(count) of \(completionCount) completions; give it for all or none")
        }
    }

    /// The number of reward functions (1 without `rewards_per_func`), checked against
    /// `reward_weights` as TRL checks it.
    private func rewardFunctionCount(for config: GRPOConfig) throws(BatchError) -> Int {
        let count = completions.first?.rewardsPerFunction?.count ?? 1
        guard count >= 1 else { throw BatchError("rewards_per_func of the first completion is empty; give one reward per function") }
        if let weights = config.rewardWeights, weights.count != count, !hasGivenAdvantages {
            throw BatchError("reward_weights has \(weights.count) value(s) but the batch has \(count) reward function(s); "
                             + "give one weight per function (TRL: number of reward weights must match)")
        }
        return count
    }
}

extension GRPOConfig {
    /// The sampler correction's bounds, and what TRL refuses with them: what its options must
    /// satisfy whenever a batch carries sampler log-probs and the correction is on (a trainer
    /// checks it before it samples one).
    public func validateSamplerCorrection() throws(BatchError) {
        let config = self
        let low = config.vllmImportanceSamplingClipMin, high = config.vllmImportanceSamplingClipMax
        if let low, let high, low >= high {
            throw BatchError("vllm_importance_sampling_clip_min (\(low)) must be below vllm_importance_sampling_clip_max (\(high))")
        }
        let mode = config.vllmImportanceSamplingMode
        if mode.truncates && low == nil && high == nil {
            throw BatchError("vllm_importance_sampling_mode \(mode.rawValue) needs "
                             + "vllm_importance_sampling_clip_min or vllm_importance_sampling_clip_max (both are none)")
        }
        if config.objective.foldsSamplerWeight && mode.isSequenceLevel {
            throw BatchError("loss_type \(config.lossType.rawValue) needs vllm_importance_sampling_mode token_truncate or "
                             + "token_mask, not \(mode.rawValue) (TRL: VESPO folds per-token sampler weights into its sequence ratio)")
        }
    }
}

extension Batch {
    /// Throws at the first per-token value of `fields` that is not a finite number, naming its
    /// group, completion, field and token.
    func validateTokenValues(_ fields: Set<TokenField> = Set(TokenField.allCases)) throws(BatchError) {
        for (gi, group) in groups.enumerated() {
            for (ci, c) in group.completions.enumerated() {
                for (field, values) in c.tokenFields where fields.contains(field) {
                    if let t = values.firstIndex(where: { !$0.isFinite }) {
                        throw BatchError("group \(gi), completion \(ci): \(field.rawValue)[\(t)] is \(values[t]), not a finite number")
                    }
                }
            }
        }
    }
}

/// A completion's per-token arrays, named as in a batch file.
enum TokenField: String, CaseIterable {
    case logp, oldLogp = "old_logp", refLogp = "ref_logp", entropy, samplerLogp = "sampler_logp"
    case policyWeight = "policy_weight"
    case logRatioPenalty = "log_ratio_penalty"
}

extension Completion {
    /// The per-token arrays it carries, in the order `validate` checks them.
    var tokenFields: [(TokenField, [Double])] {
        var fields: [(TokenField, [Double])] = [(.logp, logp), (.oldLogp, oldLogp)]
        if let refLogp { fields.append((.refLogp, refLogp)) }
        if let entropy { fields.append((.entropy, entropy)) }
        if let samplerLogp { fields.append((.samplerLogp, samplerLogp)) }
        if let policyWeight { fields.append((.policyWeight, policyWeight)) }
        if let logRatioPenalty { fields.append((.logRatioPenalty, logRatioPenalty)) }
        return fields
    }
}
