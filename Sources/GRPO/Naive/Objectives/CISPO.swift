extension Naive {
    /// CISPO's weight of one token: the ratio capped at epsilon_high, min(r, eps_high), detached,
    /// so it scales the gradient without passing any through the ratio. Here epsilon_high is an
    /// absolute cap on r, not a width (TRL recommends 5). Lesson 05.
    public static func cispoWeight(_ ratio: Scalar, config: GRPOConfig) -> Scalar {
        Scalar.detached(Scalar.clamp(ratio, min: -.infinity, max: config.resolvedEpsilonHigh))
    }

    /// CISPO (MiniMax-M1), one token, objective sign:
    ///
    ///     sg(min(r, eps_high)) * A * logp          d / d logp = min(r, eps_high) * A
    ///
    /// REINFORCE's A logp, weighed by the capped ratio. Where PPO's clip drops a token's gradient
    /// altogether (r past the clip range on the side A pushes), CISPO keeps it, only capped.
    /// Lesson 05.
    public static func cispoObjective(ratio: Scalar, logp: Scalar, advantage: Double, config: GRPOConfig) -> Scalar {
        (cispoWeight(ratio, config: config) * advantage) * logp
    }
}
