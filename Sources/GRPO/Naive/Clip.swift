extension Naive {
    /// clip(r, 1 - epsilon, 1 + epsilon_high): the ratio held inside the trust region.
    /// Its derivative is 0 outside the range, which is how clipping stops the gradient. Lesson 04.
    public static func clippedRatio(_ ratio: Scalar, config: GRPOConfig) -> Scalar {
        Scalar.clamp(ratio, min: 1 - config.epsilon, max: 1 + config.resolvedEpsilonHigh)
    }

    /// The PPO surrogate of one token (objective sign, to be maximized):
    ///
    ///     min( r A,  clip(r, 1 - eps, 1 + eps_high) A )
    ///
    /// with r replaced by min(r, delta) in the first term when `delta` is set (two-sided clipping).
    /// The min picks the more pessimistic term: when A > 0 the ratio cannot profit from rising
    /// above 1 + eps_high, when A < 0 from falling below 1 - eps. Lesson 04.
    public static func clippedSurrogate(ratio: Scalar, advantage: Double, config: GRPOConfig) -> Scalar {
        let clipped = clippedRatio(ratio, config: config)
        var capped = ratio
        if let delta = config.delta {
            capped = Scalar.clamp(ratio, min: -Double.infinity, max: delta)
        }
        // With A = 0 both terms are 0 whatever the ratio, even one that overflowed to inf
        // (inf * 0 would be NaN).
        let unclippedTerm = advantage == 0 ? Scalar(0) : capped * advantage
        let clippedTerm = advantage == 0 ? Scalar(0) : clipped * advantage
        return Scalar.minimum(unclippedTerm, clippedTerm)
    }

    /// Which term the min of `clippedSurrogate` takes at ratio r: `.clipped` when clip(r) A is
    /// strictly smaller (no gradient through r), else `.capped` when r > delta (no gradient
    /// either), else `.unclipped`. A function of r, A and the clip options, so a `Breakdown`
    /// computes it when read. Lesson 04.
    public static func clipBranch(ratio r: Double, advantage a: Double, config: GRPOConfig) -> ClipBranch {
        let delta = config.delta ?? .infinity
        // With A = 0 both terms are 0 (and inf * 0 would be NaN): nothing is clipped.
        if a != 0 && config.clip(r) * a < Swift.min(r, delta) * a { return .clipped }
        return r > delta ? .capped : .unclipped
    }
}
