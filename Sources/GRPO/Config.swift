/// Every option of the GRPO loss, with TRL's `GRPOConfig` names and meanings where TRL has one,
/// and an explicit switch for each convention the libraries disagree on.
///
/// The defaults follow the formula of "Deconstructing the GRPO Loss" (the DeepSeekMath setting):
/// per-sequence token mean, epsilon 0.2, beta 0.04, the k3 KL estimator. `Preset` gives the
/// set-ups of TRL, DAPO, Dr. GRPO, GSPO, CISPO, SAPO and LUSPO in one word. The loss is a
/// composition of terms (`LossTerms.swift`: objective, masks, regularizers, aggregation);
/// `loss_type` picks the objective and the aggregation. Lesson: `lessons/README.md`.
public struct GRPOConfig: Sendable, Equatable {
    /// TRL's `loss_type`: which per-token policy objective, aggregated how. `LossType.objective`
    /// and `LossType.aggregation` are the table (`LossTerms.swift`). Lessons 05 and 07.
    public enum LossType: String, Sendable, CaseIterable {
        /// clip-and-min, mean over completions of (sum over tokens / |o_i|): the DeepSeekMath formula.
        case grpo
        /// clip-and-min, sum over all tokens / number of valid tokens in the batch.
        case bnpo
        /// clip-and-min, sum over all tokens / number of valid tokens in the generation batch
        /// (equal to `bnpo` for one batch on one process). TRL's default.
        case dapo
        /// clip-and-min, sum over all tokens / (number of completions * max_completion_length).
        case drGRPO = "dr_grpo"
        /// MiniMax-M1's CISPO: -sg(min(r, epsilon_high)) A logp, aggregated like dapo.
        case cispo
        /// SAPO: a soft sigmoid gate on the ratio instead of a hard clip, aggregated like grpo.
        case sapo
        /// LUSPO: clip-and-min, mean over completions of the per-sequence sum of token losses.
        case luspo
        /// VESPO: -sg(phi(w)) A logp with a gamma-shaped weight of the sequence ratio w, like dapo.
        case vespo
    }

    /// Which standard deviation divides the centred rewards (TRL `scale_rewards`). Lesson 02.
    public enum ScaleRewards: String, Sendable, CaseIterable {
        /// std of the completion's own group.
        case group
        /// std of every reward in the batch (the mean stays per group).
        case batch
        /// no division: A = r - mean(group).
        case none
    }

    /// How several reward functions become one advantage (TRL `multi_objective_aggregation`).
    /// Lesson 02.
    public enum MultiObjectiveAggregation: String, Sendable, CaseIterable {
        /// r_i = sum_f w_f r_if, then the group-relative advantage of r (as with one function).
        case sumThenNormalize = "sum_then_normalize"
        /// GDPO: each function standardized within its group, then the weighted sum standardized
        /// over the whole batch (`scale_rewards` is not used).
        case normalizeThenSum = "normalize_then_sum"
    }

    /// Whether the importance ratio is per token or one per completion (TRL
    /// `importance_sampling_level`). Lesson 10.
    public enum ImportanceSamplingLevel: String, Sendable, CaseIterable {
        /// r_t = exp(logp_t - old_logp_t)
        case token
        /// GSPO: r = exp(mean_t(logp_t - old_logp_t)), shared by every token of the completion.
        case sequence
    }

    /// Sample (n - 1, Bessel: torch.std, which TRL, verl and OpenRLHF use) or population (n; `np.std`
    /// without ddof, many blogs) std.
    /// Our own switch. Lesson 02.
    public enum StdEstimator: String, Sendable, CaseIterable {
        case sample
        case population
    }

    /// How torch.quantile takes the rank q (n - 1) of `top_entropy_quantile`'s threshold, which
    /// changed between torch versions (pytorch#187574): in float64 from the float32 q (torch 2.15,
    /// checked with 2.15.0), or in float32 (torch 2.13 and before, checked with 2.13.0). It
    /// decides ties: with rho 0.7 over 11 entropies, four of them 0, the float32 rank is exactly 3
    /// and keeps the zeros, the float64 one is 3.0000001 and drops them. Our own switch (TRL takes
    /// whatever torch it runs on). Lesson 11.
    public enum QuantileRank: String, Sendable, CaseIterable {
        case float64
        case float32
    }

    /// Which per-token estimator of KL(pi_theta || pi_ref) is used, with d = ref_logp - logp.
    /// Our own switch (TRL always uses k3). Lesson 06.
    public enum KLEstimator: String, Sendable, CaseIterable {
        /// k1 = -d = logp - ref_logp
        case k1
        /// k2 = d^2 / 2
        case k2
        /// k3 = exp(d) - d - 1 (>= 0), computed as expm1(d) - d
        case k3
        /// |d| = |logp - ref_logp| (verl's `abs`)
        case abs
    }

    /// How the sampler-trainer correction weighs tokens when the sampler (an inference engine such
    /// as vLLM) is not exactly pi_old (TRL `vllm_importance_sampling_mode`). With
    /// rho_t = exp(old_logp_t - sampler_logp_t) and the sequence product rho = exp(sum_t ...):
    /// Lesson 09.
    public enum SamplerCorrectionMode: String, Sendable, CaseIterable {
        /// w_t = rho_t clamped into [C_min, C_max]
        case tokenTruncate = "token_truncate"
        /// w_t = rho_t, or 0 where rho_t is outside [C_min, C_max]
        case tokenMask = "token_mask"
        /// w = rho clamped into [C_min, C_max], at every token of the completion
        case sequenceTruncate = "sequence_truncate"
        /// w = rho, or 0 for the whole completion when rho is outside [C_min, C_max] (TRL's default)
        case sequenceMask = "sequence_mask"
    }

    public var lossType: LossType = .grpo
    /// Lower clip width: the ratio is clipped below at 1 - epsilon (TRL `epsilon`).
    public var epsilon: Double = 0.2
    /// Upper clip width: clipped above at 1 + epsilon_high; `nil` means equal to `epsilon`
    /// (TRL `epsilon_high`; DAPO's clip-higher uses 0.28). For `cispo` it is the absolute cap of
    /// the ratio instead (TRL recommends 5).
    public var epsilonHigh: Double? = nil
    /// Two-sided clipping: the unclipped ratio is capped at `delta` (TRL `delta`; verl's dual-clip
    /// `clip_ratio_c`). `nil` switches it off. Only the clip-and-min objective uses it.
    public var delta: Double? = nil
    /// Weight of the KL penalty (TRL `beta`).
    public var beta: Double = 0.04
    /// Multiply the per-token KL by the importance ratio (TRL `use_bias_correction_kl`; true by
    /// default in TRL 1.16, false before and in DeepSeekMath).
    public var useBiasCorrectionKL: Bool = false
    public var scaleRewards: ScaleRewards = .group
    /// One weight per reward function (TRL `reward_weights`); nil weighs each function 1.
    public var rewardWeights: [Double]? = nil
    public var multiObjectiveAggregation: MultiObjectiveAggregation = .sumThenNormalize
    public var importanceSamplingLevel: ImportanceSamplingLevel = .token
    /// The constant divisor of `dr_grpo` (TRL `max_completion_length`, default 512).
    public var maxCompletionLength: Int = 512
    /// rho: keep the policy term only on the top rho share of tokens by entropy (TRL
    /// `top_entropy_quantile`; 1 keeps all, 0.2 keeps the "forking tokens"). Lesson 11.
    public var topEntropyQuantile: Double = 1.0
    public var entropyQuantileRank: QuantileRank = .float64
    /// SAPO's gate temperature for tokens with A > 0 (TRL `sapo_temperature_pos`).
    public var sapoTemperaturePos: Double = 1.0
    /// SAPO's gate temperature for tokens with A <= 0 (TRL `sapo_temperature_neg`).
    public var sapoTemperatureNeg: Double = 1.05
    /// VESPO's power k and decay lambda of phi(w) = exp(lambda + k log w - lambda w), for A >= 0
    /// (`_pos`) and A < 0 (`_neg`) (TRL `vespo_k_pos`, ...).
    public var vespoKPos: Double = 2.0
    public var vespoLambdaPos: Double = 3.0
    public var vespoKNeg: Double = 3.0
    public var vespoLambdaNeg: Double = 2.0
    /// DeepSeek-V3.2's off-policy sequence mask: a completion with A < 0 whose mean over its
    /// tokens of (sampler or old logp - logp) exceeds this loses its policy term (TRL
    /// `off_policy_mask_threshold`); nil switches it off. Lesson 05.
    public var offPolicyMaskThreshold: Double? = nil
    /// Weight of the entropy bonus: loss -= entropy_coef * mean entropy of the tokens the policy
    /// term acts on (TRL `entropy_coef`). Lesson 05.
    public var entropyCoef: Double = 0
    /// Skywork-OR1's adaptive entropy control (TRL `use_adaptive_entropy` and its four numbers):
    /// a trainer's controller moves `entropy_coef` by `entropy_coef_delta` after each optimizer
    /// step, within [`entropy_coef_min`, `entropy_coef_max`], and applies it only while the last
    /// step's entropy is at most `entropy_target` (`AdaptiveEntropy`). A single batch's loss uses
    /// the coefficient it is given.
    public var useAdaptiveEntropy: Bool = false
    public var entropyTarget: Double = 0.2
    public var entropyCoefDelta: Double = 0.005
    public var entropyCoefMin: Double = 0
    public var entropyCoefMax: Double = 1
    /// Drop completions marked `truncated` (hit the length limit) from the loss; their rewards
    /// still count in the advantages (TRL `mask_truncated_completions`). Lesson 05.
    public var maskTruncatedCompletions: Bool = false
    public var stdEstimator: StdEstimator = .sample
    /// Added to the std before dividing: TRL 1e-4, verl 1e-6, OpenRLHF 1e-9.
    public var stdEpsilon: Double = 1e-4
    public var klEstimator: KLEstimator = .k3
    /// Weigh each token's policy term by the truncated sampler/trainer ratio when completions
    /// carry `sampler_logp` (TRL `vllm_importance_sampling_correction`; no effect without them).
    public var vllmImportanceSamplingCorrection: Bool = true
    public var vllmImportanceSamplingMode: SamplerCorrectionMode = .sequenceMask
    /// The bounds [C_min, C_max] of the sampler/trainer importance weight (TRL
    /// `vllm_importance_sampling_clip_min` and `_clip_max`; TRL's older `vllm_importance_sampling_cap`
    /// is `_clip_max`): the truncate modes clamp the weight into them, the mask modes set it to 0
    /// outside them. nil: no bound on that side. Lesson 09.
    public var vllmImportanceSamplingClipMin: Double? = nil
    public var vllmImportanceSamplingClipMax: Double? = 3.0

    // Conventions where verl 0.9.1 computes differently from TRL 1.16, each TRL's by default
    // (`Conventions.swift` has their types; DESIGN.md, "verl 0.9.1"; lesson 14).

    /// The policy objective in place of the one `loss_type` picks (verl's loss modes that TRL
    /// has no loss type for: `reinforce`, `dro`, `dppo_tv`, `dppo_kl`); nil: the loss type's.
    public var policyObjective: PolicyObjective? = nil
    /// DRO's weight of the quadratic log-ratio penalty (verl's `dro_beta`).
    public var droBeta: Double = 0.1
    /// The policy term's own aggregation, where it differs from the regularizers' (verl's `sapo`
    /// always takes seq-mean-token-mean for it, while its KL and entropy follow `loss_agg_mode`);
    /// nil: the policy term and the regularizers are aggregated alike.
    public var policyAggMode: Aggregation? = nil
    /// The aggregation in place of the one `loss_type` picks (verl's `loss_agg_mode`, which
    /// includes `token-sum`); nil: the loss type's.
    public var lossAggMode: Aggregation? = nil
    /// Clamp each token's log-ratio logp - old_logp into [-c, c] before exp, with no gradient
    /// outside (verl's 20 in `vanilla`, `sapo`, `cispo`, `dppo_*`); nil: no clamp (TRL).
    public var logRatioClamp: Double? = nil
    /// How GSPO's sequence ratio sends its gradient back: TRL's through the mean, or verl's per token.
    public var sequenceRatioGradient: SequenceRatioGradient = .shared
    /// Cap the sequence log-ratio from above at this (verl's GSPO: 10); nil: no cap.
    public var sequenceLogRatioCap: Double? = nil
    /// What `delta` does: TRL's cap of the unclipped ratio, or verl's dual clip (A < 0 only).
    public var deltaForm: DeltaForm = .cap
    /// CISPO's weight: TRL's cap min(r, epsilon_high), or verl's clip into [1 - epsilon, 1 + epsilon_high].
    public var cispoClip: CISPOClip = .cap
    /// The divisor of seq-mean-token-sum-norm: loss = sum / (B * loss_scale_factor); nil uses
    /// `max_completion_length` (TRL's dr_grpo). verl's `loss_scale_factor`.
    public var lossScaleFactor: Double? = nil
    /// How the token counts that divide are guarded: TRL's max(count, 1) or verl's m_i + 1e-8.
    public var countDivisor: CountDivisor = .atLeastOne
    /// What `entropy_coef` multiplies: TRL's mean over the acting tokens, or verl's entropy
    /// aggregated like the loss.
    public var entropyAggregation: EntropyAggregation = .actingTokenMean
    /// verl's clamps of its k3 (`low_var_kl`): d = ref - logp into [-20, 20], the KL into [-10, 10].
    public var klClamp: Bool = false
    /// verl's straight-through KL (`k3+` and the like): the value of `kl_estimator`, the gradient of k2.
    public var klStraightThrough: Bool = false

    public init() {}

    /// The upper clip width actually used: `epsilonHigh`, or `epsilon` when it is not set.
    public var resolvedEpsilonHigh: Double { epsilonHigh ?? epsilon }

    /// clip(r, 1 - epsilon, 1 + epsilon_high): TRL's `coef_2` for a ratio r (lesson 04).
    public func clip(_ r: Double) -> Double { Swift.min(Swift.max(r, 1 - epsilon), 1 + resolvedEpsilonHigh) }

    /// True when the loss subtracts an entropy bonus (TRL's `_entropy_bonus_enabled`: a non-zero
    /// coefficient, or adaptive control, whose coefficient may come back from 0).
    public var hasEntropyBonus: Bool { entropyCoef != 0 || useAdaptiveEntropy }
}

extension GRPOConfig.SamplerCorrectionMode {
    /// True for the modes that clamp the weight into its bounds (false: set it to 0 outside).
    public var truncates: Bool {
        switch self {
        case .tokenTruncate, .sequenceTruncate: true
        case .tokenMask, .sequenceMask: false
        }
    }

    /// True for the modes with one weight per completion (the product of its token ratios).
    public var isSequenceLevel: Bool {
        switch self {
        case .sequenceTruncate, .sequenceMask: true
        case .tokenTruncate, .tokenMask: false
        }
    }
}
