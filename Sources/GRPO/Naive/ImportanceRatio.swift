extension Naive {
    /// The importance ratio of one token, correcting for data sampled by pi_old:
    ///
    ///     r_it = pi_theta(o_t | q, o_<t) / pi_old(o_t | q, o_<t) = exp(logp_t - old_logp_t)
    ///
    /// Exactly 1 on-policy (logp = old_logp), which is the first inner update. With
    /// `log_ratio_clamp` c the log-ratio is clamped into [-c, c] first (`clampedLogRatio`).
    /// Lesson 03.
    public static func tokenRatio(logp: Scalar, oldLogp: Double, config: GRPOConfig) -> Scalar {
        Scalar.exp(clampedLogRatio(logp - oldLogp, config))
    }

    /// GSPO's sequence-level ratio, one per completion, used at each of its tokens:
    ///
    ///     s_i = exp( (1/m_i) sum_t (logp_t - old_logp_t) )
    ///
    /// over the m_i tokens the loss counts: the geometric mean of their token ratios (a
    /// completion with none gets exp(0) = 1). `log_ratio_clamp` clamps the mean. Lesson 10.
    public static func sequenceRatio(logp: [Scalar], oldLogp: [Double], counted: [Bool], config: GRPOConfig) -> Scalar {
        var logRatios: [Scalar] = []
        for t in logp.indices where counted[t] {
            logRatios.append(logp[t] - oldLogp[t])
        }
        let meanLogRatio = Scalar.sum(logRatios) / Double(max(logRatios.count, 1))
        return Scalar.exp(clampedLogRatio(meanLogRatio, config))
    }

    /// A log-ratio as the ratio takes it: clamped into [-c, c] with `log_ratio_clamp` c (verl's
    /// 20, "for stability": no gradient flows where it clamps), as it is otherwise (TRL). Lesson 11.
    static func clampedLogRatio(_ x: Scalar, _ config: GRPOConfig) -> Scalar {
        guard let c = config.logRatioClamp else { return x }
        return Scalar.clamp(x, min: -c, max: c)
    }
}
