extension Naive {
    /// REINFORCE, one token, objective sign: the advantage times the log-probability,
    ///
    ///     A * logp                 d / d logp = A
    ///
    /// with no ratio and no clip: every token moves by its advantage alone, however far the
    /// policy has drifted from the one that sampled it. verl's `gpg` loss (GPG) and the
    /// `reinforce` loss of its `bypass_mode`. Lesson 05.
    public static func reinforceObjective(logp: Scalar, advantage: Double) -> Scalar {
        logp * advantage
    }
}
