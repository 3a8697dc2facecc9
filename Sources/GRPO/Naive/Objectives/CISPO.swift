extension Naive {
    /// CISPO's weight of one token, detached, so it scales the gradient without passing any
    /// through the ratio; `cispo_clip` says how the ratio is bounded:
    ///
    ///     cap    min(r, eps_high)                     TRL: eps_high an absolute cap (TRL recommends 5)
    ///     range  clip(r, 1 - eps, 1 + eps_high)       verl: both widths, as the PPO clip
    ///
    /// Lesson 05.
    public static func cispoWeight(_ ratio: Scalar, config: GRPOConfig) -> Scalar {
        switch config.cispoClip {
        case .cap: Scalar.detached(Scalar.clamp(ratio, min: -.infinity, max: config.resolvedEpsilonHigh))
        case .range: Scalar.detached(clippedRatio(ratio, config: config))
        }
    }

    /// CISPO (MiniMax-M1), one token, objective sign:
    ///
    ///     sg(c(r)) * A * logp          d / d logp = c(r) * A,  c = `cispoWeight`
    ///
    /// REINFORCE's A logp, weighed by the capped ratio. Where PPO's clip drops a token's gradient
    /// altogether (r past the clip range on the side A pushes), CISPO keeps it, only capped.
    /// Lesson 05.
    public static func cispoObjective(ratio: Scalar, logp: Scalar, advantage: Double, config: GRPOConfig) -> Scalar {
        (cispoWeight(ratio, config: config) * advantage) * logp
    }
}
