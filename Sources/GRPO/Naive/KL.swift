extension Naive {
    /// One token's estimate of KL(pi_theta || pi_ref), with d = ref_logp - logp:
    ///
    ///     k1 = -d                  unbiased, can be negative
    ///     k2 = d^2 / 2             biased, >= 0; its gradient is that of the reverse KL
    ///     k3 = exp(d) - d - 1      unbiased, >= 0 (DeepSeekMath, TRL); written expm1(d) - d so
    ///                              that it stays >= 0 when d is tiny
    ///
    /// Lesson 05.
    public static func klPenalty(logp: Scalar, refLogp: Double, estimator: GRPOConfig.KLEstimator) -> Scalar {
        let d = refLogp - logp
        switch estimator {
        case .k1: return -d
        case .k2: return d * d * 0.5
        case .k3: return Scalar.expm1(d) - d
        }
    }
}
