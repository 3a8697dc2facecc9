import ExerciseChecks
import GRPO

extension Mine {
    /// Exercise Loss (lessons 01-07): TRL's `grpo` loss of a whole batch, from your own functions.
    ///
    ///     A_i   = groupAdvantages of the group's rewards (sample std, epsilon 1e-4)
    ///     r_it  = importanceRatio(logp_it, old_logp_it)
    ///     L_it  = -clippedObjective(r_it, A_i, epsilon, epsilon) + beta * klEstimate(logp_it, ref_logp_it, .k3)
    ///     loss  = aggregate(L, .sequenceMeanTokenMean)
    ///
    /// `logp[i][t]` are the leaves to differentiate (completion i of the batch, groups one after
    /// another); `batch` has each completion's `reward`, `oldLogp` and `refLogp`. Hint:
    /// `batch.groups`, and count completions as you go through them.
    public static func grpoLoss(logp: [[Scalar]], batch: Batch, epsilon: Double, beta: Double) throws -> Scalar {
        throw NotWrittenYet(.loss)
    }
}
