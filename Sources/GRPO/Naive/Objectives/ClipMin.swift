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
    /// strictly smaller and r is outside the clip range (no gradient through r); `.capped` when
    /// min(r, delta) A is taken with r > delta (no gradient either); `.unclipped` otherwise, the
    /// gradient flowing through r. (With delta below 1 + epsilon_high, A < 0 and delta < r inside
    /// the range, the min takes clip(r) A = r A: unclipped.) A function of r, A and the clip
    /// options, so a `Breakdown` computes it when read. Lesson 04.
    public static func clipBranch(ratio r: Double, advantage a: Double, config: GRPOConfig) -> ClipBranch {
        let terms = surrogateTerms(ratio: r, advantage: a, config: config)
        if terms.clipped < terms.unclipped { return config.clip(r) == r ? .unclipped : .clipped }
        return r > config.delta ?? .infinity ? .capped : .unclipped
    }

    /// The two terms of the min as plain numbers, min(r, delta) A and clip(r) A, for a ratio
    /// read from a `Breakdown`: both 0 when A = 0, even for a ratio that overflowed to inf.
    public static func surrogateTerms(ratio r: Double, advantage a: Double, config: GRPOConfig)
        -> (unclipped: Double, clipped: Double)
    {
        guard a != 0 else { return (0, 0) }
        return (Swift.min(r, config.delta ?? .infinity) * a, config.clip(r) * a)
    }
}
