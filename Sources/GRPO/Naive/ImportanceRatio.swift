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
    ///     s_i = exp( (1/|o_i|) sum_t (logp_t - old_logp_t) )
    ///
    /// the geometric mean of the token ratios (an empty completion gets exp(0) = 1). Lesson 09.
    public static func sequenceRatio(logp: [Scalar], oldLogp: [Double]) -> Scalar {
        var logRatios: [Scalar] = []
        for t in logp.indices {
            logRatios.append(logp[t] - oldLogp[t])
        }
        let meanLogRatio = Scalar.sum(logRatios) / Double(max(logp.count, 1))
        return Scalar.exp(meanLogRatio)
    }
}
