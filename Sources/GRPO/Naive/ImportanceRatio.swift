extension Naive {
    /// The importance ratio of one token, correcting for data sampled by pi_old:
    ///
    ///     r_it = pi_theta(o_t | q, o_<t) / pi_old(o_t | q, o_<t) = exp(logp_t - old_logp_t)
    ///
    /// Exactly 1 on-policy (logp = old_logp), which is the first inner update. Lesson 03.
    public static func tokenRatio(logp: Scalar, oldLogp: Double) -> Scalar {
        Scalar.exp(logp - oldLogp)
    }

    /// GSPO's sequence-level ratio, one per completion, used at each of its tokens:
    ///
    ///     s_i = exp( (1/m_i) sum_t (logp_t - old_logp_t) )
    ///
    /// over the m_i tokens the loss counts: the geometric mean of their token ratios (a
    /// completion with none gets exp(0) = 1). Lesson 10.
    public static func sequenceRatio(logp: [Scalar], oldLogp: [Double], counted: [Bool]) -> Scalar {
        var logRatios: [Scalar] = []
        for t in logp.indices where counted[t] {
            logRatios.append(logp[t] - oldLogp[t])
        }
        let meanLogRatio = Scalar.sum(logRatios) / Double(max(logRatios.count, 1))
        return Scalar.exp(meanLogRatio)
    }
}
