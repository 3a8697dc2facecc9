import ExerciseChecks
import GRPO

extension Mine {
    /// Exercise KL (lesson 06). One token's estimate of KL(pi_theta || pi_ref), with
    /// d = ref_logp - logp:
    ///
    ///     k1 = -d        k2 = d^2 / 2        k3 = exp(d) - d - 1        abs = |d|
    ///
    /// Hint: a `switch estimator`; check that k3 is never negative.
    public static func klEstimate(logp: Scalar, refLogp: Double, estimator: GRPOConfig.KLEstimator) throws -> Scalar {
        throw NotWrittenYet(.kl)
    }
}
