#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Naive {
    /// One token's estimate of KL(pi_theta || pi_ref), with d = ref_logp - logp:
    ///
    ///     k1  = -d                  unbiased, can be negative
    ///     k2  = d^2 / 2             biased, >= 0; its gradient is that of the reverse KL
    ///     k3  = exp(d) - d - 1      unbiased, >= 0 (DeepSeekMath, TRL); written expm1(d) - d so
    ///                               that it stays >= 0 when d is tiny
    ///     abs = |d|                 verl's `abs`
    ///
    /// `kl_clamp` clamps k3 as verl does (`clampedK3`); `kl_straight_through` keeps the value
    /// and takes k2's gradient (`straightThroughKL`). Lesson 06.
    public static func klPenalty(logp: Scalar, refLogp: Double, config: GRPOConfig) -> Scalar {
        let d = refLogp - logp
        let estimate: Scalar
        switch config.klEstimator {
        case .k1: estimate = -d
        case .k2: estimate = d * d * 0.5
        case .k3: estimate = config.klClamp ? clampedK3(d) : Scalar.expm1(d) - d
        case .abs: estimate = Scalar.abs(d)
        }
        return config.klStraightThrough ? straightThroughKL(estimate, d: d) : estimate
    }

    /// verl's `low_var_kl`: k3 of d clamped into [-20, 20], itself clamped into [-10, 10] "for
    /// stability"; no gradient flows where either clamp acts. Lesson 14.
    static func clampedK3(_ d: Scalar) -> Scalar {
        let clampedD = Scalar.clamp(d, min: -20, max: 20)
        return Scalar.clamp(Scalar.expm1(clampedD) - clampedD, min: -10, max: 10)
    }

    /// verl's straight-through estimators (`k1+`, `k3+`, ...): the value of `estimate`, the
    /// gradient of k2 = d^2 / 2 (whose expected gradient is the true KL's), written as
    /// k2 - sg(k2) + sg(estimate). Lesson 14.
    static func straightThroughKL(_ estimate: Scalar, d: Scalar) -> Scalar {
        let k2 = d * d * 0.5
        return (k2 - k2.value) + estimate.value
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
        case .k1, .abs: logKL = log(abs(d))
        case .k2: logKL = 2 * log(abs(d)) - log(2)
        case .k3: logKL = d
        }
        return exp(logKL + logRatio)
    }
}
