#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Naive {
    /// One token's estimate of KL(pi_theta || pi_ref), with d = ref_logp - logp:
    ///
    ///     k1 = -d                  unbiased, can be negative
    ///     k2 = d^2 / 2             biased, >= 0; its gradient is that of the reverse KL
    ///     k3 = exp(d) - d - 1      unbiased, >= 0 (DeepSeekMath, TRL); written expm1(d) - d so
    ///                              that it stays >= 0 when d is tiny
    ///
    /// Lesson 06.
    public static func klPenalty(logp: Scalar, refLogp: Double, estimator: GRPOConfig.KLEstimator) -> Scalar {
        let d = refLogp - logp
        switch estimator {
        case .k1: return -d
        case .k2: return d * d * 0.5
        case .k3: return Scalar.expm1(d) - d
        }
    }

    /// The KL term as the loss uses it: KL_t, or KL_t * r with `use_bias_correction_kl` (TRL 1.16's
    /// default: its gradient is then the unbiased gradient of the reverse KL per token). Where
    /// inf * 0 would be NaN: a KL of exactly 0 with a ratio that overflowed to inf is 0, and a KL
    /// that overflowed with a ratio that underflowed to 0 is their product taken in logs
    /// (`overflowedBiasCorrectedKL`). Lesson 06.
    static func biasCorrectedKL(_ penalty: Scalar, ratio r: Scalar, completion c: Completion, token t: Int,
                                counted: [Bool], config: GRPOConfig) -> Scalar {
        guard config.useBiasCorrectionKL else { return penalty }
        if penalty.value == 0 && !r.value.isFinite { return Scalar(0) }
        if penalty.value == .infinity && r.value == 0 {
            let logRatio: Double
            switch config.importanceSamplingLevel {
            case .token: logRatio = c.logp[t] - c.oldLogp[t]
            case .sequence:
                let tokens = c.logp.indices.filter { counted[$0] }
                logRatio = tokens.reduce(0.0) { $0 + (c.logp[$1] - c.oldLogp[$1]) } / Double(max(tokens.count, 1))
            }
            return Scalar(overflowedBiasCorrectedKL(d: c.refLogp![t] - c.logp[t], logRatio: logRatio,
                                                    estimator: config.klEstimator))
        }
        return penalty * r
    }

    /// KL_t * r for the bias correction where the KL overflowed to inf and the ratio underflowed
    /// to 0 (inf * 0 would be NaN): the product, taken in logs, exp(log KL + log r). For k3,
    /// log(e^d - d - 1) is d once e^d has overflowed; k2's log is 2 log|d| - log 2 (k1 = -d never
    /// overflows). A number, carrying no gradient. Lesson 06.
    public static func overflowedBiasCorrectedKL(d: Double, logRatio: Double, estimator: GRPOConfig.KLEstimator) -> Double {
        let logKL: Double
        switch estimator {
        case .k1: logKL = log(abs(d))
        case .k2: logKL = 2 * log(abs(d)) - log(2)
        case .k3: logKL = d
        }
        return exp(logKL + logRatio)
    }
}
