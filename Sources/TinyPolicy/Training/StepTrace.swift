import GRPO

/// Everything about one inner update, for the REPL to print: the sampled data, the exact batch
/// that went into the loss, every intermediate quantity of the loss, and d loss / d theta.
///
/// - sampled tokens, prompts, rewards: `rollout`
/// - logp (current theta), old_logp, ref_logp, entropies, sampler_logp: `batch`
/// - advantages, ratio, clipped ratio, branch, KL, per-token loss, token weight, d loss / d logp,
///   metrics: `breakdown`
/// - loss, norms, clip fractions, KL, entropy, lengths, mean reward, cross-check: `summary`
public struct StepTrace: Sendable {
    public var summary: StepSummary
    public var rollout: Rollout
    public var batch: Batch
    public var breakdown: Breakdown
    /// d loss / d theta, laid out as `Policy.parameters`.
    public var gradient: [Double]
}
