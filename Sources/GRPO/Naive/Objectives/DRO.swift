extension Naive {
    /// Direct Reward Optimization (verl's `dro`), one token, objective sign: REINFORCE with a
    /// quadratic penalty on the log-ratio x = logp - old_logp (not clamped),
    ///
    ///     A * logp - (dro_beta / 2) * x^2          d / d logp = A - dro_beta * x
    ///
    /// so the pull back towards the old policy grows with the distance, where PPO's clip would
    /// stop the gradient at a cliff. Lesson 05.
    public static func droObjective(logp: Scalar, oldLogp: Double, advantage: Double, config: GRPOConfig) -> Scalar {
        let x = logp - oldLogp
        return logp * advantage - x * x * (0.5 * config.droBeta)
    }
}
