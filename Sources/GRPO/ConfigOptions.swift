/// A reason a configuration value was refused, as one line a person can act on.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One settable option: its TRL name, what it means, the values it accepts, and how to read and
/// write it as text. `GRPOConfig.options` is the single table that `--set key=value`, the REPL's
/// `set`, `show config` and Tab completion all read.
public struct ConfigOption: Sendable {
    /// What kind of value the option holds, for writing it as JSON with the right type.
    public enum Kind: Sendable {
        case number, optionalNumber, numberList, integer, flag, choice
    }

    public let key: String
    public let kind: Kind
    public let summary: String
    /// The accepted values as shown to a person: choices (`grpo`, `dapo`, ...) or a range.
    public let accepted: String
    /// Values offered by Tab completion.
    public let suggestions: [String]
    public let get: @Sendable (GRPOConfig) -> String
    let apply: @Sendable (inout GRPOConfig, String) throws(ConfigError) -> Void

    /// Sets this option from text, leaving `config` unchanged when the text is refused.
    public func set(_ text: String, in config: inout GRPOConfig) throws(ConfigError) {
        var copy = config
        try apply(&copy, text)
        config = copy
    }
}

extension GRPOConfig {
    /// Looks up an option by its key (`loss_type`, `epsilon`, ...) or a name TRL has retired.
    public static func option(named key: String) -> ConfigOption? {
        let key = currentName(of: key)
        return options.first { $0.key == key }
    }

    /// TRL's current name for an option it has renamed (it still reads the old one); the name
    /// itself otherwise.
    public static func currentName(of key: String) -> String {
        key == "vllm_importance_sampling_cap" ? "vllm_importance_sampling_clip_max" : key
    }

    /// Sets `key` to `value`; on error nothing changes and the message names the key and what it accepts.
    public mutating func set(_ key: String, to value: String) throws(ConfigError) {
        guard let option = Self.option(named: key) else {
            throw ConfigError("unknown option '\(key)'; options are: \(Self.options.map(\.key).joined(separator: ", "))")
        }
        try option.set(value, in: &self)
    }

    /// The options as (key, value) pairs in table order, for `show config` and JSON output.
    public var settings: [(key: String, value: String)] {
        Self.options.map { ($0.key, $0.get(self)) }
    }

    public static let options: [ConfigOption] = [
        .choice("loss_type", "the policy objective and how it is aggregated (lessons 05, 07)", \.lossType),
        .number("epsilon", "lower clip width: ratio >= 1 - epsilon (1 or more: no lower clip)", \.epsilon, 0, 100),
        .optionalNumber("epsilon_high", "upper clip width: ratio <= 1 + epsilon_high (none = epsilon); cispo's cap",
                       \.epsilonHigh, 0, 100),
        .optionalNumber("delta", "two-sided clip: cap the unclipped ratio at delta (none = off); see delta_form",
                       \.delta, 0, 1e300, lowerOpen: true),
        .number("beta", "weight of the KL penalty", \.beta, 0, 1e6),
        .flag("use_bias_correction_kl", "multiply the per-token KL by the importance ratio",
             \.useBiasCorrectionKL),
        // TRL's GRPOConfig still reads the old booleans: True is "group", False is "none".
        .choice("scale_rewards", "which std divides the centred rewards (lesson 02)", \.scaleRewards,
               aliases: ["true": "group", "false": "none"]),
        .numberList("reward_weights", "one weight per reward function (none = all 1)", \.rewardWeights),
        .choice("multi_objective_aggregation", "several reward functions: sum then normalize, or GDPO's reverse",
               \.multiObjectiveAggregation),
        .choice("importance_sampling_level", "ratio per token, or one per completion (GSPO)",
               \.importanceSamplingLevel),
        .integer("max_completion_length", "the constant divisor of dr_grpo", \.maxCompletionLength,
                1, 1_000_000),
        .number("top_entropy_quantile", "keep the policy term on this top share of tokens by entropy",
               \.topEntropyQuantile, 0, 1),
        .choice("entropy_quantile_rank", "torch.quantile's rank: float64 (torch >= 2.15) or float32 (<= 2.13) (lesson 11)",
                \.entropyQuantileRank),
        .number("sapo_temperature_pos", "sapo: gate temperature where A > 0", \.sapoTemperaturePos, 0, 1e6, lowerOpen: true),
        .number("sapo_temperature_neg", "sapo: gate temperature where A <= 0", \.sapoTemperatureNeg, 0, 1e6, lowerOpen: true),
        .number("vespo_k_pos", "vespo: power k of phi(w) where A >= 0", \.vespoKPos, 0, 1000),
        .number("vespo_lambda_pos", "vespo: decay lambda of phi(w) where A >= 0", \.vespoLambdaPos, 0, 1000),
        .number("vespo_k_neg", "vespo: power k of phi(w) where A < 0", \.vespoKNeg, 0, 1000),
        .number("vespo_lambda_neg", "vespo: decay lambda of phi(w) where A < 0", \.vespoLambdaNeg, 0, 1000),
        .optionalNumber("off_policy_mask_threshold", "drop A < 0 completions whose mean (sampler - current) logp exceeds it",
                       \.offPolicyMaskThreshold, 0, 1e6),
        .number("entropy_coef", "entropy bonus: loss -= entropy_coef * entropy (see entropy_aggregation)", \.entropyCoef, -1e6, 1e6),
        .flag("use_adaptive_entropy", "training: move entropy_coef after each step (Skywork-OR1)", \.useAdaptiveEntropy),
        .number("entropy_target", "adaptive entropy: apply the bonus while entropy <= this", \.entropyTarget, 0, 1e6),
        .number("entropy_coef_delta", "adaptive entropy: step of entropy_coef", \.entropyCoefDelta, 0, 1e6),
        .number("entropy_coef_min", "adaptive entropy: lower bound of entropy_coef", \.entropyCoefMin, -1e6, 1e6),
        .number("entropy_coef_max", "adaptive entropy: upper bound of entropy_coef", \.entropyCoefMax, -1e6, 1e6),
        .flag("mask_truncated_completions", "leave completions marked truncated out of the loss",
             \.maskTruncatedCompletions),
        .choice("std_estimator", "sample (n-1) or population (n) std (lesson 02)", \.stdEstimator),
        .number("std_epsilon", "added to the std before dividing (TRL 1e-4, verl 1e-6)",
               \.stdEpsilon, 0, 1),
        .choice("kl_estimator", "per-token KL estimator: k1, k2, k3 or abs (lesson 06)", \.klEstimator),
        .flag("vllm_importance_sampling_correction", "weigh tokens by the sampler/trainer ratio when sampler_logp is given",
             \.vllmImportanceSamplingCorrection),
        .choice("vllm_importance_sampling_mode", "truncate or mask, per token or per sequence (lesson 09)",
               \.vllmImportanceSamplingMode),
        .optionalNumber("vllm_importance_sampling_clip_max", "upper bound of the sampler/trainer weight (none = no bound)",
                       \.vllmImportanceSamplingClipMax, 0, 1e6, lowerOpen: true),
        .optionalNumber("vllm_importance_sampling_clip_min", "lower bound of the sampler/trainer weight (none = no bound)",
                       \.vllmImportanceSamplingClipMin, 0, 1e6),
        // verl's conventions (TRL's by default): lesson 14.
        .optionalChoice("policy_objective", "the objective, in place of the loss type's (none = loss_type's; lesson 05)",
                        \.policyObjective),
        .number("dro_beta", "dro: weight of the penalty (logp - old_logp)^2 / 2 (verl's dro_beta)", \.droBeta, 0, 1e6,
                lowerOpen: true),
        .optionalChoice("policy_agg_mode", "the policy term's aggregation when the KL's differs (verl's sapo; none = the same)",
                        \.policyAggMode),
        .optionalChoice("loss_agg_mode", "the aggregation, in place of the loss type's (none = loss_type's; lesson 07)",
                        \.lossAggMode),
        .optionalNumber("log_ratio_clamp", "clamp log r into [-c, c] before exp (verl: 20; none = TRL, no clamp)",
                       \.logRatioClamp, 0, 1e6, lowerOpen: true),
        .choice("sequence_ratio_gradient", "GSPO's s to logp: TRL's shared through the mean, or verl's per_token (lesson 10)",
               \.sequenceRatioGradient),
        .optionalNumber("sequence_log_ratio_cap", "cap the sequence log-ratio from above (verl's GSPO: 10; none = no cap)",
                       \.sequenceLogRatioCap, -1e6, 1e6),
        .choice("delta_form", "delta as TRL's cap of r, or verl's dual clip on A < 0 (lesson 04)", \.deltaForm),
        .choice("cispo_clip", "cispo's weight: TRL's cap min(r, epsilon_high), or verl's clip range (lesson 05)",
               \.cispoClip),
        .optionalNumber("loss_scale_factor", "seq-mean-token-sum-norm divides by B times this (none = max_completion_length)",
                       \.lossScaleFactor, 0, 1e9, lowerOpen: true),
        .choice("count_divisor", "seq-mean-token-mean's divisor of a completion's tokens m: TRL's max(m, 1) or verl's m + 1e-8",
               \.countDivisor),
        .choice("entropy_aggregation", "entropy_coef times TRL's mean over acting tokens, or verl's loss_agg_mode aggregate",
               \.entropyAggregation),
        .flag("kl_clamp", "verl's clamps of k3: d into [-20, 20], the KL into [-10, 10] (lesson 06)", \.klClamp),
        .flag("kl_straight_through", "verl's '+' KL: this estimator's value, k2's gradient (lesson 06)",
             \.klStraightThrough),
    ]

    /// Checks every field against the ranges of `options` (for configs built in code).
    public func validate() throws(ConfigError) {
        var copy = self
        for (key, value) in settings { try copy.set(key, to: value) }
    }
}

extension Bool {
    /// "true" or "false", in any case, as `accepted` says: nothing else.
    public init?(optionText text: String) {
        switch text.trimmingWhitespace.lowercased() {
        case "true": self = true
        case "false": self = false
        default: return nil
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines (no Foundation needed).
    public var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
