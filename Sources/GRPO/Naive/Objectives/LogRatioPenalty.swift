extension Naive {
    /// A penalty on one token's log-ratio, added to its policy term (loss sign), with the
    /// token's coefficient k (`Completion.logRatioPenalty`):
    ///
    ///     k * |logp - old_logp|            d / d logp = k * sign(logp - old_logp)  (0 at 0)
    ///
    /// The log-ratio is not clamped. verl's `kl_cov` (Cui et al. 2025, "The Entropy Mechanism of
    /// Reinforcement Learning for Reasoning Language Models") gives k = ppo_kl_coef to the few
    /// tokens whose covariance of A and logp is largest and k = 0 to the rest: those tokens,
    /// which drive the entropy down fastest, are pulled back towards the old policy. The masks
    /// and importance weights then act on the sum, as on any policy term. Lesson 05.
    public static func logRatioPenalty(logp: Scalar, oldLogp: Double, coefficient k: Double) -> Scalar {
        Scalar.abs(logp - oldLogp) * k
    }
}
