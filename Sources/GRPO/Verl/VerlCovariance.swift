#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The two loss modes of Cui et al. 2025 ("The Entropy Mechanism of Reinforcement Learning for
/// Reasoning Language Models"): the tokens whose covariance of advantage and log-probability,
/// (A - mean A)(logp - mean logp) over the batch's response tokens, is large are the ones that
/// drive the policy's entropy down. `clip_cov` drops the policy term of a random few of them,
/// `kl_cov` pulls the top few back with a penalty on their log-ratio. Lesson 05.
extension VerlOptions {
    /// clip_cov's choice (verl's `compute_policy_loss_clip_cov`): among the response tokens the
    /// clip has not already held (the clipped term not above the unclipped one), those whose
    /// covariance term (A - mean A)(logp - mean logp) lies strictly inside (clip_cov_lb,
    /// clip_cov_ub) are candidates, and max(int(clip_cov_ratio N), 1) of them lose their policy
    /// term. verl picks them with `torch.randperm`; when there are more candidates than it picks,
    /// that choice cannot be reproduced here and the batch is refused. Returns, per completion, 0
    /// for a chosen token and 1 elsewhere.
    func clipCovKeep(_ batch: Batch, config: GRPOConfig) throws(ConfigError) -> [[Double]] {
        let completions = batch.completions
        let (tokens, sumA, sumLogp) = responseTokenSums(completions)
        let meanA = sumA / (tokens + 1e-8), meanLogp = sumLogp / (tokens + 1e-8)  // verl's masked_mean
        var candidates: [(row: Int, token: Int)] = []
        for (row, c) in completions.enumerated() {
            let a = c.advantage ?? 0
            for t in 0..<c.length where c.mask?[t] ?? true {
                let r = exp(c.logp[t] - c.oldLogp[t])
                let heldByClip = -a * config.clip(r) > -a * r
                let covariance = (a - meanA) * (c.logp[t] - meanLogp)
                if !heldByClip && covariance > clipCovLB && covariance < clipCovUB { candidates.append((row, t)) }
            }
        }
        let chosen = max(Int(clipCovRatio * tokens), 1)
        guard candidates.count <= chosen else {
            throw ConfigError(notReproducible("clip_cov's random choice (torch.randperm picks \(chosen) of its \(candidates.count) candidate "
                                             + "tokens; a clip_cov_ratio that takes every candidate is computed)"))
        }
        var keep = completions.map { [Double](repeating: 1, count: $0.length) }
        for (row, t) in candidates { keep[row][t] = 0 }
        return keep
    }
}

extension VerlOptions {
    /// kl_cov's choice (verl's `compute_policy_loss_kl_cov`): over the N response tokens, the
    /// max(int(kl_cov_ratio N), 1) with the largest covariance (A - mean A)(logp - mean logp)
    /// (plain means) get the coefficient ppo_kl_coef of `Naive.logRatioPenalty`, every other
    /// token 0. verl picks them with `torch.topk`; where the last one picked ties with the first
    /// one left out, which of them torch takes is not defined, and the batch is refused.
    func klCovPenalty(_ batch: Batch) throws(ConfigError) -> [[Double]] {
        let completions = batch.completions
        let (tokens, sumA, sumLogp) = responseTokenSums(completions)
        var penalty = completions.map { [Double](repeating: 0, count: $0.length) }
        guard tokens > 0 else { return penalty }
        let meanA = sumA / tokens, meanLogp = sumLogp / tokens
        var covariance: [(value: Double, row: Int, token: Int)] = []
        for (row, c) in completions.enumerated() {
            for t in 0..<c.length where c.mask?[t] ?? true {
                covariance.append((((c.advantage ?? 0) - meanA) * (c.logp[t] - meanLogp), row, t))
            }
        }
        let chosen = max(1, Int(Double(covariance.count) * klCovRatio))
        covariance.sort { $0.value > $1.value }
        if chosen < covariance.count && covariance[chosen - 1].value == covariance[chosen].value {
            throw ConfigError(notReproducible("kl_cov's choice among equal covariances (torch.topk picks \(chosen) of \(covariance.count) tokens "
                                             + "and the last one picked ties with the next)"))
        }
        for (_, row, t) in covariance.prefix(chosen) { penalty[row][t] = ppoKLCoef }
        return penalty
    }

    /// The number of response tokens, and the sums of their advantages and log-probs (the
    /// covariance's means).
    func responseTokenSums(_ completions: [Completion]) -> (tokens: Double, sumA: Double, sumLogp: Double) {
        var tokens = 0.0, sumA = 0.0, sumLogp = 0.0
        for c in completions {
            for t in 0..<c.length where c.mask?[t] ?? true {
                tokens += 1
                sumA += c.advantage ?? 0
                sumLogp += c.logp[t]
            }
        }
        return (tokens, sumA, sumLogp)
    }
}
