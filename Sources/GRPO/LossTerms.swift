/// The loss as a composition of named terms. Per token of completion i (loss = -objective):
///
///     L_it = (-objective(r_it, A_i, logp_it) + k_it |log r_it|) * keep_it * w_it  +  beta * KL_it
///     loss = aggregate_i,t(L_it over the tokens the loss counts)  -  entropy_coef * mean entropy
///
/// - importance weight r: token or sequence level (`importance_sampling_level`), times the
///   sampler/trainer weight w (`vllm_importance_sampling_*`);
/// - policy objective: `PolicyObjective` (clip-and-min, CISPO, SAPO, VESPO, ...), plus a penalty on
///   the log-ratio at the tokens a trainer chose (`Completion.logRatioPenalty`: verl's kl_cov);
/// - masks: keep = off-policy sequence mask * entropy mask; the loss mask (a completion's
///   `mask`, truncated completions) removes a token from the loss altogether;
/// - regularizers: the KL term, the entropy bonus;
/// - aggregation: `Aggregation`.
///
/// TRL's `loss_type` word picks the objective and the aggregation: `LossType.objective` and
/// `LossType.aggregation` are that table, and DESIGN.md shows it.
extension GRPOConfig {
    /// The per-token policy objective (objective sign, to be maximized). Lesson 05.
    public enum PolicyObjective: String, Sendable, CaseIterable {
        /// PPO's min(r A, clip(r) A), with `delta` capping r (lesson 04).
        case clipMin = "clip_min"
        /// sg(min(r, epsilon_high)) A logp: the weight is clipped and detached, so every token
        /// keeps a gradient (MiniMax-M1).
        case cispo
        /// sigmoid(tau (r - 1)) 4 / tau A: a soft gate in place of the hard clip.
        case sapo
        /// sg(phi(w)) A logp, phi(w) = exp(lambda + k log w - lambda w) of the sequence's product
        /// ratio w (with the sampler weights folded in).
        case vespo
        /// A logp: no ratio, no clip (verl's `gpg`; `bypass_mode`'s reinforce).
        case reinforce
        /// A logp - dro_beta / 2 (logp - old_logp)^2 (verl's `dro`).
        case dro
        /// sg(min(r, delta)) A logp, 0 once p - p_old leaves its range in A's direction (verl's `dppo_tv`).
        case dppoTV = "dppo_tv"
        /// The same with the Bernoulli KL of p and p_old as the trust region (verl's `dppo_kl`).
        case dppoKL = "dppo_kl"
        /// A s_i with s_i the geometric mean of sign-clipped token ratios, once per completion
        /// (GMPO, verl's `geo_mean`; aggregate with `seq-mean`).
        case geoMean = "geo_mean"
        /// r A: the surrogate without a clip (verl's `kl_cov`, which adds `logRatioPenalty` at
        /// a few tokens instead).
        case unclipped

        /// VESPO folds the sampler/trainer weights into its sequence ratio instead of multiplying
        /// the policy term by them afterwards (TRL skips that product for vespo).
        public var foldsSamplerWeight: Bool {
            switch self {
            case .vespo: true
            case .clipMin, .cispo, .sapo, .reinforce, .dro, .dppoTV, .dppoKL, .geoMean, .unclipped: false
            }
        }
    }

    /// How the per-token losses L_it of B completions become one number; the names are verl's
    /// `loss_agg_mode`. With m_i the tokens completion i counts and N = sum_i m_i. Lesson 07.
    public enum Aggregation: String, Sendable, CaseIterable {
        /// (1/B) sum_i (1/m_i) sum_t L_it: each completion weighs the same (grpo, sapo).
        case sequenceMeanTokenMean = "seq-mean-token-mean"
        /// (1/N) sum_it L_it: each token weighs the same (bnpo, dapo, cispo, vespo).
        case tokenMean = "token-mean"
        /// (1/(B L)) sum_it L_it with L = `loss_scale_factor`, or max_completion_length when it
        /// is not set: a constant (dr_grpo).
        case constantNormalizer = "seq-mean-token-sum-norm"
        /// (1/B) sum_i sum_t L_it: a completion weighs by its length (luspo).
        case sequenceMeanTokenSum = "seq-mean-token-sum"
        /// sum_it L_it: no normalizer at all (verl's `token-sum`; no TRL loss_type).
        case tokenSum = "token-sum"
        /// (1/B) sum_i mean_t L_it with the exact count m_i: a term that is one number per
        /// completion, repeated at its tokens, counted once (verl's geo_mean: `torch.mean` over rows).
        case sequenceMean = "seq-mean"
    }
}

extension GRPOConfig.LossType {
    /// The policy objective of this `loss_type`.
    public var objective: GRPOConfig.PolicyObjective {
        switch self {
        case .grpo, .bnpo, .dapo, .drGRPO, .luspo: .clipMin
        case .cispo: .cispo
        case .sapo: .sapo
        case .vespo: .vespo
        }
    }

    /// How this `loss_type` aggregates (bnpo and dapo agree for one batch on one process: TRL's
    /// dapo divides by the tokens of the whole generation batch, bnpo by those of the micro-batch).
    public var aggregation: GRPOConfig.Aggregation {
        switch self {
        case .grpo, .sapo: .sequenceMeanTokenMean
        case .bnpo, .dapo, .cispo, .vespo: .tokenMean
        case .drGRPO: .constantNormalizer
        case .luspo: .sequenceMeanTokenSum
        }
    }

    /// One line on what this loss type is, for tables and help.
    public var summary: String {
        switch self {
        case .grpo: "clip-and-min, per-sequence token mean (DeepSeekMath)"
        case .bnpo: "clip-and-min, token mean over the micro-batch"
        case .dapo: "clip-and-min, token mean over the generation batch (DAPO; TRL's default)"
        case .drGRPO: "clip-and-min, sum / (B * max_completion_length) (Dr. GRPO)"
        case .cispo: "detached clipped ratio times A logp, token mean (MiniMax-M1)"
        case .sapo: "soft sigmoid gate on the ratio, per-sequence token mean (SAPO)"
        case .luspo: "clip-and-min, per-sequence sum of token losses (LUSPO)"
        case .vespo: "detached gamma weight of the sequence ratio times A logp, token mean (VESPO)"
        }
    }
}

extension GRPOConfig {
    /// The objective the config's `loss_type` picks (or `policy_objective`'s), and its
    /// aggregation (or `loss_agg_mode`'s).
    public var objective: PolicyObjective { policyObjective ?? lossType.objective }
    public var aggregation: Aggregation { lossAggMode ?? lossType.aggregation }
    /// The policy term's aggregation: `policy_agg_mode`, or the regularizers' `aggregation`.
    public var policyAggregation: Aggregation { policyAggMode ?? aggregation }
}
