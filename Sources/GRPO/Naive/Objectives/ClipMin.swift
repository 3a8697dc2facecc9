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
    /// The min picks the more pessimistic term: when A > 0 the ratio cannot profit from rising
    /// above 1 + eps_high, when A < 0 from falling below 1 - eps. `delta` bounds what is left, in
    /// the form `delta_form` names (`cappedRatio`, `dualClipFloor`). Lesson 04.
    public static func clippedSurrogate(ratio: Scalar, advantage: Double, config: GRPOConfig) -> Scalar {
        // With A = 0 both terms are 0 whatever the ratio, even one that overflowed to inf
        // (inf * 0 would be NaN).
        guard advantage != 0 else { return Scalar(0) }
        let unclippedTerm = cappedRatio(ratio, config: config) * advantage
        let clippedTerm = clippedRatio(ratio, config: config) * advantage
        let surrogate = Scalar.minimum(unclippedTerm, clippedTerm)
        return dualClipFloor(surrogate, advantage: advantage, config: config)
    }

    /// TRL's two-sided clip (`delta_form` cap): the unclipped term's ratio capped at delta,
    /// min(r, delta), for every token; r itself without delta or under the dual clip. Lesson 04.
    static func cappedRatio(_ ratio: Scalar, config: GRPOConfig) -> Scalar {
        let cap = unclippedRatioCap(config)
        return cap == .infinity ? ratio : Scalar.clamp(ratio, min: -Double.infinity, max: cap)
    }

    /// verl's dual clip (`delta_form` dual_clip, verl's `clip_ratio_c`): for A < 0 the surrogate
    /// is at least delta A, max(surrogate, delta A), so a negative token's loss is at most
    /// -delta A however far r grows; the surrogate itself otherwise. It agrees with TRL's cap
    /// when delta >= 1 + eps_high. Lesson 04.
    static func dualClipFloor(_ surrogate: Scalar, advantage: Double, config: GRPOConfig) -> Scalar {
        guard let delta = config.delta, advantage < 0, config.deltaForm == .dualClip else { return surrogate }
        return Scalar.maximum(surrogate, Scalar(delta * advantage))
    }

    /// Which term the surrogate takes at ratio r: `.clipped` when clip(r) A is strictly smaller
    /// and r is outside the clip range (no gradient through r); `.capped` when `delta` bounds the
    /// token (TRL's cap: min(r, delta) A taken with r > delta; verl's dual clip: delta A strictly
    /// above the min, A < 0), no gradient either; `.unclipped` otherwise, the gradient flowing
    /// through r. (With delta below 1 + epsilon_high, A < 0 and delta < r inside the range, TRL's
    /// min takes clip(r) A = r A: unclipped.) A function of r, A and the clip options, so a
    /// `Breakdown` computes it when read. Lesson 04.
    public static func clipBranch(ratio r: Double, advantage a: Double, config: GRPOConfig) -> ClipBranch {
        let terms = surrogateTerms(ratio: r, advantage: a, config: config)
        if let delta = config.delta {
            switch config.deltaForm {
            case .cap: break
            case .dualClip: if a < 0 && delta * a > min(terms.unclipped, terms.clipped) { return .capped }
            }
        }
        if terms.clipped < terms.unclipped { return config.clip(r) == r ? .unclipped : .clipped }
        return r > unclippedRatioCap(config) ? .capped : .unclipped
    }

    /// The cap of the ratio in the surrogate's first term: `delta` under TRL's cap, none under
    /// the dual clip (or without delta).
    static func unclippedRatioCap(_ config: GRPOConfig) -> Double {
        switch config.deltaForm {
        case .cap: config.delta ?? .infinity
        case .dualClip: .infinity
        }
    }

    /// The two terms of the min as plain numbers, min(r, delta) A (TRL's cap; r A under the dual
    /// clip) and clip(r) A, for a ratio read from a `Breakdown`: both 0 when A = 0, even for a
    /// ratio that overflowed to inf.
    public static func surrogateTerms(ratio r: Double, advantage a: Double, config: GRPOConfig)
        -> (unclipped: Double, clipped: Double)
    {
        guard a != 0 else { return (0, 0) }
        return (Swift.min(r, unclippedRatioCap(config)) * a, config.clip(r) * a)
    }
}
