/// What one GRPO iteration sampled and scored: the batch that its mu inner updates reuse.
///
/// Completions are stored group after group (the rows of `Batch` and `Breakdown`): completion k
/// answers prompt `prompts[k / groupSize]`. `oldLogp` and `refLogp` are computed once, when the
/// completions are sampled, as TRL does; only logp is recomputed at every inner update.
/// Lessons 02 (groups) and 03 (stale data).
public struct Rollout: Sendable, Equatable, Codable {
    /// 0-based index of the iteration that sampled it.
    public var iteration: Int
    /// q of each group.
    public var prompts: [Int]
    /// G.
    public var groupSize: Int
    /// The temperature of the scores (logp, old_logp, ref_logp) of every inner update on it.
    public var temperature: Double
    /// o_i, token indices, group after group.
    public var completions: [[Int]]
    /// r_i.
    public var rewards: [Double]
    /// log pi_old(o_t | ...): scored by theta_old, the parameters when the batch arrives (the
    /// sampler's own log-probs under `old_logp_source sampler`).
    public var oldLogp: [[Double]]
    /// log pi_ref(o_t | ...): scored by theta_ref.
    public var refLogp: [[Double]]
    /// What the sampler reported, when it is not exactly pi_old (lesson 09); `nil` otherwise.
    public var samplerLogp: [[Double]]?
    /// How many updates behind theta the weights that sampled each token were (`max_staleness`,
    /// in-flight updates every `weight_update_interval` tokens); `nil` without a stale sampler.
    public var tokenLag: [[Int]]? = nil

    /// `old_logp_source sampler`: old_logp become the sampler's log-probs, so the ratio is taken
    /// against the weights that sampled each token and no separate sampler_logp is left. Lesson 16.
    mutating func takeSamplerLogpAsOld() {
        guard let behaviour = samplerLogp else { return }
        oldLogp = behaviour
        samplerLogp = nil
    }

    /// The prompt of each completion.
    public var completionPrompts: [Int] {
        prompts.flatMap { [Int](repeating: $0, count: groupSize) }
    }
}

extension Rollout {
    /// True when the rollout fits a policy of this shape (checked when a saved session is read):
    /// prompts and tokens in range, lengths within the policy's positions, one value per token in
    /// each log-prob row, G >= 2.
    func fits(_ policy: Policy) -> Bool {
        let b = prompts.count * groupSize
        // A batch the trainer can train on: at least one prompt, every completion at least one
        // token, every number finite (a hand-edited "prompts": [] once loaded, then trapped).
        guard !prompts.isEmpty, groupSize >= 2, temperature > 0, temperature.isFinite, completions.count == b, rewards.count == b,
              oldLogp.count == b, refLogp.count == b, samplerLogp.map({ $0.count == b }) ?? true,
              rewards.allSatisfy(\.isFinite), prompts.allSatisfy({ (0..<policy.promptCount).contains($0) }) else { return false }
        for (i, o) in completions.enumerated() {
            let numbers = oldLogp[i] + refLogp[i] + (samplerLogp?[i] ?? [])
            guard !o.isEmpty, o.count <= policy.maxLength, o.allSatisfy({ (0..<policy.vocabularySize).contains($0) }),
                  numbers.allSatisfy(\.isFinite),
                  oldLogp[i].count == o.count, refLogp[i].count == o.count,
                  samplerLogp.map({ $0[i].count == o.count }) ?? true,
                  tokenLag.map({ $0.count == b && $0[i].count == o.count }) ?? true else { return false }
        }
        return true
    }
}
