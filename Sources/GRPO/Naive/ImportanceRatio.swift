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
    /// completion with none gets exp(0) = 1). `log_ratio_clamp` clamps the mean, and
    /// `sequence_log_ratio_cap` caps it from above (`clampedSequenceLogRatio`). Its gradient
    /// reaches every counted token, d s_i / d logp_t = s_i / m_i (`sequence_ratio_gradient`
    /// shared). Lesson 10.
    public static func sequenceRatio(logp: [Scalar], oldLogp: [Double], counted: [Bool], config: GRPOConfig) -> Scalar {
        Scalar.exp(clampedSequenceLogRatio(meanLogRatio(logp: logp, oldLogp: oldLogp, counted: counted), config))
    }

    /// (1/m_i) sum_t (logp_t - old_logp_t) over the counted tokens (0 without any).
    static func meanLogRatio(logp: [Scalar], oldLogp: [Double], counted: [Bool]) -> Scalar {
        var logRatios: [Scalar] = []
        for t in logp.indices where counted[t] {
            logRatios.append(logp[t] - oldLogp[t])
        }
        return Scalar.sum(logRatios) / Double(max(logRatios.count, 1))
    }

    /// verl's GSPO ratio at token t (`sequence_ratio_gradient` per_token):
    ///
    ///     s_it = exp( logp_t - sg(logp_t) + sg(mean_t' (logp_t' - old_logp_t')) )
    ///
    /// the sequence's ratio s_i as a value, but a gradient s_i to token t's own logp only, as if
    /// the other tokens were held. Summed over a completion's tokens the two forms give the same
    /// gradient when every token's term is alike; they part ways when tokens weigh differently
    /// (masks, per-token sampler weights). Lesson 10.
    public static func perTokenSequenceRatio(logp: Scalar, meanLogRatio: Scalar, config: GRPOConfig) -> Scalar {
        Scalar.exp(clampedSequenceLogRatio(logp - logp.value + meanLogRatio.value, config))
    }

    /// A sequence's log-ratio as its ratio takes it: `log_ratio_clamp` into [-c, c], then
    /// `sequence_log_ratio_cap` from above (verl's GSPO caps it at 10, "for numerical
    /// stability"); no gradient flows where either holds. Lesson 10.
    static func clampedSequenceLogRatio(_ x: Scalar, _ config: GRPOConfig) -> Scalar {
        let clamped = clampedLogRatio(x, config)
        guard let cap = config.sequenceLogRatioCap else { return clamped }
        return Scalar.clamp(clamped, min: -.infinity, max: cap)
    }

    /// A log-ratio as the ratio takes it: clamped into [-c, c] with `log_ratio_clamp` c (verl's
    /// 20, "for stability": no gradient flows where it clamps), as it is otherwise (TRL). Lesson 14.
    static func clampedLogRatio(_ x: Scalar, _ config: GRPOConfig) -> Scalar {
        guard let c = config.logRatioClamp else { return x }
        return Scalar.clamp(x, min: -c, max: c)
    }
}
