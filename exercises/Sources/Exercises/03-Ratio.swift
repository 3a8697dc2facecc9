import ExerciseChecks
import GRPO

extension Mine {
    /// Exercise Ratio (lesson 03). The importance ratio of one token:
    ///
    ///     r_t = pi_theta(o_t) / pi_old(o_t) = exp(logp - old_logp)
    ///
    /// `oldLogp` is a constant (saved when the batch was sampled); only `logp` carries a gradient.
    /// Hint: subtract in log space, then `Scalar.exp`.
    public static func importanceRatio(logp: Scalar, oldLogp: Double) throws -> Scalar {
        throw NotWrittenYet(.ratio)
    }
}
