import ExerciseChecks
import GRPO

extension Mine {
    /// Exercise Advantages (lesson 02). Group-relative advantages of one group's rewards:
    ///
    ///     A_i = (r_i - mean(r)) / (std(r) + epsilon)
    ///
    /// with std the sample std (divide by n - 1) when `estimator` is `.sample` and the population
    /// std (divide by n) when `.population`. A group whose rewards are all equal gets A_i = 0 for
    /// every i, as the formula gives (0 / epsilon): no rule of its own. Hint: compute the mean
    /// first, then the sum of squared deviations.
    public static func groupAdvantages(rewards: [Double], estimator: GRPOConfig.StdEstimator, epsilon: Double) throws -> [Double] {
        throw NotWrittenYet(.advantages)
    }
}
