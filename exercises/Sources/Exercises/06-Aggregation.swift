import ExerciseChecks
import GRPO

extension Mine {
    /// Exercise Aggregation (lesson 07). The loss from the per-token losses, row i holding the
    /// m_i losses of completion i (B rows, N = sum_i m_i tokens, L = `maxCompletionLength`):
    ///
    ///     .sequenceMeanTokenMean   1/B sum_i (1/m_i) sum_t L_it     (grpo)
    ///     .tokenMean               1/N sum_i sum_t L_it             (bnpo, dapo)
    ///     .constantNormalizer      1/(B L) sum_i sum_t L_it         (dr_grpo)
    ///     .sequenceMeanTokenSum    1/B sum_i sum_t L_it             (luspo)
    ///
    /// The tests use only these four. Hint: every one of them is sum_it w_i L_it; write w_i.
    public static func aggregate(_ perTokenLoss: [[Scalar]], aggregation: GRPOConfig.Aggregation,
                                 maxCompletionLength: Int) throws -> Scalar {
        throw NotWrittenYet(.aggregation)
    }
}
