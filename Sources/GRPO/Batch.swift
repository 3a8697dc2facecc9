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
    /// numbers differ slightly from pi_old's); `nil` when pi_old sampled it itself. Lesson 08.
    public var samplerLogp: [Double]?
    /// A_i as a trainer already computed it, when the batch is a minibatch dumped from a run whose
    /// advantages were computed over a larger batch (TRL shuffles a generation batch's rows and
    /// spreads a prompt's G completions over steps and GPUs, so a minibatch seldom holds whole
    /// groups). When every completion has one, the group-relative step is skipped, rewards are
    /// ignored and groups are only containers. Lesson 11.
    public var advantage: Double?

    /// `oldLogp` defaults to `logp` (on-policy: every ratio is exactly 1).
    public init(reward: Double, logp: [Double], oldLogp: [Double]? = nil,
                refLogp: [Double]? = nil, entropy: [Double]? = nil, samplerLogp: [Double]? = nil,
                advantage: Double? = nil) {
        self.reward = reward
        self.logp = logp
        self.oldLogp = oldLogp ?? logp
        self.refLogp = refLogp
        self.entropy = entropy
        self.samplerLogp = samplerLogp
        self.advantage = advantage
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
    public var hasSampler: Bool { !groups.isEmpty && groups.allSatisfy { $0.completions.allSatisfy { $0.samplerLogp != nil } } }
    /// True when every completion carries its advantage (`Completion.advantage`).
    public var hasGivenAdvantages: Bool {
        !groups.isEmpty && groups.allSatisfy { $0.completions.allSatisfy { $0.advantage != nil } }
    }
    /// True when the policy terms are weighed by the sampler/trainer correction.
    public func usesSamplerCorrection(_ config: GRPOConfig) -> Bool {
        config.vllmImportanceSamplingCorrection && hasSampler
    }
}

/// Why a batch cannot go through the loss, naming the group, completion and field.
public struct BatchError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Batch {
    /// Checks what the loss needs: G >= 2 and equal in every group (G >= 1 when the advantages
    /// are given), per-token arrays of one length, finite numbers, reference log-probs when
    /// beta != 0, entropies when top_entropy_quantile < 1, and lengths within
    /// max_completion_length for dr_grpo.
    public func validate(for config: GRPOConfig) throws(BatchError) {
        try validateShape(for: config)
        try validateTokenValues()
    }

    /// Everything `validate` checks except that the per-token values are finite: one look at each
    /// completion, not at each token. `Vectorized.breakdown` checks the values in its own pass.
    func validateShape(for config: GRPOConfig) throws(BatchError) {
        guard !groups.isEmpty else { throw BatchError("the batch has no groups") }
        let g = groupSize
        let advantageCount = completions.filter { $0.advantage != nil }.count
        if advantageCount != 0 && advantageCount != completionCount {
            throw BatchError("advantage is given for \(advantageCount) of \(completionCount) completions; give it for all or none")
        }
        let givenAdvantages = advantageCount != 0
        for (gi, group) in groups.enumerated() {
            let at = "group \(gi)"
            guard !group.completions.isEmpty else { throw BatchError("\(at) has no completions") }
            guard givenAdvantages || group.completions.count >= 2 else {
                throw BatchError("\(at) has \(group.completions.count) completion(s); GRPO needs G >= 2 (or give each completion's advantage)")
            }
            guard group.completions.count == g else {
                throw BatchError("\(at) has \(group.completions.count) completions but group 0 has \(g); all groups need the same G")
            }
            for (ci, c) in group.completions.enumerated() {
                let here = "\(at), completion \(ci)"
                if let a = c.advantage {
                    guard a.isFinite else { throw BatchError("\(here): advantage is \(a), not a finite number") }
                } else {
                    guard c.reward.isFinite else { throw BatchError("\(here): reward is \(c.reward), not a finite number") }
                }
                for (field, values) in c.tokenFields where values.count != c.length {
                    throw BatchError("\(here): \(field.rawValue) has \(values.count) values but logp has \(c.length)")
                }
                if config.lossType == .drGRPO && c.length > config.maxCompletionLength {
                    throw BatchError("\(here) has \(c.length) tokens, more than max_completion_length=\(config.maxCompletionLength) that dr_grpo divides by")
                }
            }
        }
        let refCount = completions.filter { $0.refLogp != nil }.count
        if refCount != 0 && refCount != completionCount {
            throw BatchError("ref_logp is given for \(refCount) of \(completionCount) completions; give it for all or none")
        }
        let samplerCount = completions.filter { $0.samplerLogp != nil }.count
        if samplerCount != 0 && samplerCount != completionCount {
            throw BatchError("sampler_logp is given for \(samplerCount) of \(completionCount) completions; give it for all or none")
        }
        if config.beta != 0 && refCount == 0 {
            throw BatchError("beta is \(config.beta) but no completion has ref_logp; give ref_logp or set beta=0")
        }
        if usesSamplerCorrection(config) {
            let low = config.vllmImportanceSamplingClipMin, high = config.vllmImportanceSamplingClipMax
            if let low, let high, low >= high {
                throw BatchError("vllm_importance_sampling_clip_min (\(low)) must be below vllm_importance_sampling_clip_max (\(high))")
            }
            let truncates = [.tokenTruncate, .sequenceTruncate].contains(config.vllmImportanceSamplingMode)
            if truncates && low == nil && high == nil {
                throw BatchError("vllm_importance_sampling_mode \(config.vllmImportanceSamplingMode.rawValue) needs "
                                 + "vllm_importance_sampling_clip_min or vllm_importance_sampling_clip_max (both are none)")
            }
        }
        if config.topEntropyQuantile < 1 && !hasEntropy {
            throw BatchError("top_entropy_quantile is \(config.topEntropyQuantile) but not every completion has entropy")
        }
    }

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
}

extension Completion {
    /// The per-token arrays it carries, in the order `validate` checks them.
    var tokenFields: [(TokenField, [Double])] {
        var fields: [(TokenField, [Double])] = [(.logp, logp), (.oldLogp, oldLogp)]
        if let refLogp { fields.append((.refLogp, refLogp)) }
        if let entropy { fields.append((.entropy, entropy)) }
        if let samplerLogp { fields.append((.samplerLogp, samplerLogp)) }
        return fields
    }
}
