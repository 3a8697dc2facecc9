#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Naive {
    /// DPPO (verl's `dppo_tv` and `dppo_kl`), one token, objective sign: a trust region on the
    /// token's probability p = exp(logp) itself rather than on the ratio,
    ///
    ///     sg(min(r, delta)) * A * logp * valid          d / d logp = min(r, delta) A valid
    ///
    /// with valid (`dppoKeeps`) 1 while p has not moved too far from p_old in the direction A
    /// pushes it, 0 once it has: the token then passes no gradient. delta caps the detached
    /// weight (verl's `clip_ratio_c`). Lesson 05.
    public static func dppoObjective(ratio: Scalar, logp: Scalar, oldLogp: Double, advantage: Double,
                                     config: GRPOConfig) -> Scalar {
        guard dppoKeeps(logp: logp.value, oldLogp: oldLogp, advantage: advantage, config: config) else { return Scalar(0) }
        let weight = Scalar.detached(Scalar.clamp(ratio, min: -.infinity, max: config.delta ?? .infinity))
        return (weight * advantage) * logp
    }

    /// DPPO's trust region for one token, p = exp(logp), p_old = exp(old_logp), widths
    /// eps = `epsilon` and eps_high = `epsilon_high`:
    ///
    ///     dppo_tv   A > 0: p - p_old <= eps_high        A <= 0: p - p_old >= -eps
    ///     dppo_kl   A > 0: KL_b <= eps_high or p <= p_old    A <= 0: KL_b <= eps or p >= p_old
    ///
    /// with KL_b = p_old log(p_old / p) + (1 - p_old) log((1 - p_old + 1e-8) / (1 - p + 1e-8)),
    /// the KL between the two tokens' Bernoulli distributions (token or not). Lesson 05.
    public static func dppoKeeps(logp: Double, oldLogp: Double, advantage: Double, config: GRPOConfig) -> Bool {
        let p = exp(logp), pOld = exp(oldLogp)
        let high = config.resolvedEpsilonHigh, low = config.epsilon
        switch config.objective {
        case .dppoKL:
            let kl = pOld * (oldLogp - logp) + (1 - pOld) * log((1 - pOld + 1e-8) / (1 - p + 1e-8))
            return advantage > 0 ? (kl <= high || p <= pOld) : (kl <= low || p >= pOld)
        default:
            return advantage > 0 ? p - pOld <= high : p - pOld >= -low
        }
    }
}
