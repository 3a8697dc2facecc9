import ExerciseChecks
import GRPO

extension Mine {
    /// Exercise PolicyGradient (lesson 01). The per-token loss of the plain policy gradient:
    ///
    ///     L_t = -A * log pi_theta(o_t)
    ///
    /// `logp` is log pi_theta(o_t), `advantage` is A. The minus sign makes it a loss: minimizing
    /// L_t raises log pi(o_t) when A > 0. Hint: one multiplication and one sign.
    public static func policyGradientLoss(logp: Scalar, advantage: Double) throws -> Scalar {
        throw NotWrittenYet(.policyGradient)
    }
}
