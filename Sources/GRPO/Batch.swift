/// One sampled answer o_i: its reward and, per token t, the log-probabilities of that token
/// under the three policies of the formula.
public struct Completion: Sendable, Equatable {
    /// r_i, the outcome reward of the whole completion.
    public var reward: Double
    /// log pi_theta(o_t | q, o_<t): the policy being trained.
    public var logp: [Double]
    /// log pi_old(o_t | q, o_<t): the policy that sampled the completion. Equal to `logp` on-policy.
    public var oldLogp: [Double]
    /// log pi_ref(o_t | q, o_<t): the reference policy of the KL term; `nil` when not given.
    public var refLogp: [Double]?
    /// Entropy of pi_theta's distribution at each position; needed only for `top_entropy_quantile`.
    public var entropy: [Double]?
    /// log-probs under the sampler that really generated the completion (an inference engine whose
    /// numbers differ slightly from pi_old's); `nil` when pi_old sampled it itself. Lesson 09.
    public var samplerLogp: [Double]?
    /// A_i as a trainer already computed it, when the batch is a minibatch dumped from a run whose
    /// advantages were computed over a larger batch (TRL shuffles a generation batch's rows and
    /// spreads a prompt's G completions over steps and GPUs, so a minibatch seldom holds whole
    /// groups). When every completion has one, the group-relative step is skipped, rewards are
    /// ignored and groups are only containers. Lesson 13.
    public var advantage: Double?
    /// One reward per reward function (TRL's `rewards_per_func` row), nil where a function could
    /// not score the completion (TRL's NaN). When given, `reward` is not used: the functions are
    /// combined by `reward_weights` and `multi_objective_aggregation`. Lesson 02.
    public var rewardsPerFunction: [Double?]?
    /// The completion hit the length limit before its end token; `mask_truncated_completions`
    /// then leaves it out of the loss (its reward still counts). Lesson 05.
    public var truncated: Bool
    /// Which tokens the loss trains on (TRL's `tool_mask`: false for tool output inside the
    /// completion); nil trains on every token. Lesson 05.
    public var mask: [Bool]?
    /// Importance weights of the policy term as a trainer computed them, one per token (verl's
    /// `rollout_is_weights`, `VerlRolloutCorrection`): they multiply the policy term in place of
    /// the sampler correction's weights (`vllm_importance_sampling_*`); nil: none given. Lesson 09.
    public var policyWeight: [Double]? = nil
    /// Per-token coefficients k_t of a penalty on the log-ratio inside the policy term,
    /// + k_t |logp_t - old_logp_t| (verl's `kl_cov`: ppo_kl_coef on the tokens whose covariance of
    /// A and logp is largest, 0 elsewhere, chosen by `VerlOptions.klCovPenalty`; any finite k, as
    /// verl takes a negative ppo_kl_coef too); nil: none. Lesson 05.
    public var logRatioPenalty: [Double]? = nil
    /// How many updates behind the trainer's theta the weights that sampled each token were
    /// (a stale, asynchronous sampler; issue 14's tiny-policy simulation); nil: not recorded.
    /// Shown beside the numbers, never read by the loss. Lesson 09.
    public var samplerLag: [Int]? = nil

    /// `oldLogp` defaults to `logp` (on-policy: every ratio is exactly 1).
    public init(reward: Double, logp: [Double], oldLogp: [Double]? = nil,
                refLogp: [Double]? = nil, entropy: [Double]? = nil, samplerLogp: [Double]? = nil,
                advantage: Double? = nil, rewardsPerFunction: [Double?]? = nil, truncated: Bool = false,
                mask: [Bool]? = nil) {
        self.reward = reward
        self.logp = logp
        self.oldLogp = oldLogp ?? logp
        self.refLogp = refLogp
        self.entropy = entropy
        self.samplerLogp = samplerLogp
        self.advantage = advantage
        self.rewardsPerFunction = rewardsPerFunction
        self.truncated = truncated
        self.mask = mask
    }

    /// |o_i|, the number of tokens (may be 0).
    public var length: Int { logp.count }
}

/// The G completions sampled for one prompt q.
public struct Group: Sendable, Equatable {
    public var completions: [Completion]
    public init(completions: [Completion]) { self.completions = completions }
    public var rewards: [Double] { completions.map(\.reward) }
}

/// Groups of completions: the input of both loss paths, and what `explain` reads from a file.
public struct Batch: Sendable, Equatable {
    public var groups: [Group]
    public init(groups: [Group]) { self.groups = groups }

    /// Every completion, group after group: the order of `Breakdown`'s rows.
    public var completions: [Completion] { groups.flatMap(\.completions) }
    public var completionCount: Int { groups.reduce(0) { $0 + $1.completions.count } }
    public var tokenCount: Int { groups.reduce(0) { $0 + $1.completions.reduce(0) { $0 + $1.length } } }
    /// G, the size of the first group (`validate` checks that all groups have it).
    public var groupSize: Int { groups.first?.completions.count ?? 0 }
    /// True when every completion carries reference log-probabilities.
    public var hasReference: Bool { !groups.isEmpty && groups.allSatisfy { $0.completions.allSatisfy { $0.refLogp != nil } } }
    public var hasEntropy: Bool { !groups.isEmpty && groups.allSatisfy { $0.completions.allSatisfy { $0.entropy != nil } } }
    /// Every completion carries given policy weights (`Completion.policyWeight`).
    public var hasPolicyWeight: Bool { !groups.isEmpty && groups.allSatisfy { $0.completions.allSatisfy { $0.policyWeight != nil } } }
    /// Every completion carries log-ratio penalty coefficients (`Completion.logRatioPenalty`).
    public var hasLogRatioPenalty: Bool {
        !groups.isEmpty && groups.allSatisfy { $0.completions.allSatisfy { $0.logRatioPenalty != nil } }
    }

    /// The first (group, completion, token) whose value of `field` (given weights) is negative.
    func firstNegative(_ field: KeyPath<Completion, [Double]?>) -> (Int, Int, Int)? {
        for (g, group) in groups.enumerated() {
            for (i, c) in group.completions.enumerated() {
                if let t = c[keyPath: field]?.firstIndex(where: { $0 < 0 && $0.isFinite }) { return (g, i, t) }  // inf: not finite, said later
            }
        }
        return nil
    }

    public var hasSampler: Bool { !groups.isEmpty && groups.allSatisfy { $0.completions.allSatisfy { $0.samplerLogp != nil } } }
    /// True when the completions give one reward per reward function.
    public var hasRewardsPerFunction: Bool {
        !groups.isEmpty && groups.allSatisfy { $0.completions.allSatisfy { $0.rewardsPerFunction != nil } }
    }
    /// True when every completion carries its advantage (`Completion.advantage`).
    public var hasGivenAdvantages: Bool {
        !groups.isEmpty && groups.allSatisfy { $0.completions.allSatisfy { $0.advantage != nil } }
    }
    /// True when the policy terms are weighed by the sampler/trainer correction.
    public func usesSamplerCorrection(_ config: GRPOConfig) -> Bool {
        config.vllmImportanceSamplingCorrection && hasSampler
    }
}

