extension Naive {
    /// DeepSeek-V3.2's off-policy sequence mask for one completion: keep its policy term unless
    /// its advantage is negative and it has drifted too far from the policy that sampled it,
    ///
    ///     keep = A >= 0  or  (1/m) sum_t (sampler_logp_t - logp_t) <= threshold
    ///
    /// over the m tokens the loss counts, with old_logp in place of sampler_logp when the batch has
    /// none (TRL reads the sampler's log-probs when vLLM gave them). The mean is a sample estimate
    /// of KL(pi_sampler || pi_theta) along the completion. The KL term is not masked. Lesson 05.
    public static func offPolicyKeep(logp: [Double], samplerLogp: [Double], counted: [Bool], advantage: Double,
                                     threshold: Double) -> Bool {
        if advantage >= 0 { return true }
        var sum = 0.0, m = 0.0
        for t in logp.indices where counted[t] {
            sum += samplerLogp[t] - logp[t]
            m += 1
        }
        return sum / max(m, 1) <= threshold
    }
}
