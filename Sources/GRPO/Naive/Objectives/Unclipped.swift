extension Naive {
    /// The importance-weighted surrogate with no clip, one token, objective sign:
    ///
    ///     r * A                    d / d r = A, so d / d logp = r A
    ///
    /// PPO's surrogate before its clip and min: nothing stops a token's ratio from running away.
    /// verl's `kl_cov` starts from it and holds back only the tokens it penalizes
    /// (`logRatioPenalty`). With A = 0 the term is 0 whatever the ratio (even one that overflowed
    /// to inf). Lesson 05.
    public static func unclippedObjective(ratio: Scalar, advantage: Double) -> Scalar {
        guard advantage != 0 else { return Scalar(0) }
        return ratio * advantage
    }
}
