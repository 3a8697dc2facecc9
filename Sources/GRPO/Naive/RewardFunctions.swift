#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Naive {
    /// One reward from several reward functions (TRL's `rewards_per_func` row and `reward_weights`):
    ///
    ///     r_i = sum_f w_f r_if        over the functions that scored the completion
    ///
    /// nil when none did (unscorable). A single reward r is the one-function case, r w_0. Lesson 02.
    public static func weightedReward(_ completion: Completion, weights: [Double]?) -> Double? {
        let rewards = completion.rewardsPerFunction ?? [completion.reward]
        var total = 0.0, scored = false
        for (f, r) in rewards.enumerated() {
            guard let r else { continue }
            total += r * (weights?[f] ?? 1)
            scored = true
        }
        return scored ? total : nil
    }

    /// GDPO's advantages (`multi_objective_aggregation=normalize_then_sum`): each function's
    /// rewards standardized within the group first, so a function with a wide spread does not
    /// drown the others, then summed with the weights and standardized over the whole batch:
    ///
    ///     z_if = (r_if - mean_f(group)) / (std_f(group) + std_epsilon)
    ///     s_i  = sum_f w_f z_if
    ///     A_i  = (s_i - mean(s over the batch)) / (std(s over the batch) + std_epsilon)
    ///
    /// with the zero-std and nil rules of `advantages(rewards:config:)` at both steps;
    /// `scale_rewards` is not used (TRL's rule). Each group's z_if sum to 0, so the batch mean of
    /// s is exactly 0: it is not computed, since its rounding noise (TRL's) would hand the
    /// completions of an all-equal group advantages of +-1e-17, whose sign the clip metrics
    /// count. Every group reports the batch mean (0) and std. Lesson 02.
    static func normalizeThenSumAdvantages(_ batch: Batch, config: GRPOConfig) -> (advantages: [Double], mean: [Double], std: [Double]) {
        var perFunction = GRPOConfig()
        perFunction.stdEstimator = config.stdEstimator
        perFunction.stdEpsilon = config.stdEpsilon
        perFunction.scaleRewards = .group
        let functions = batch.completions.first?.rewardsPerFunction?.count ?? 1
        var summed: [Double?] = []
        for group in batch.groups {
            let rows = group.completions.map { $0.rewardsPerFunction ?? [$0.reward] }
            var z: [[Double?]] = []
            for f in 0..<functions {
                let column = rows.map { $0[f] }
                let standardized = advantages(rewards: [column], config: perFunction).advantages[0]
                // A function's std that is NaN (one value in the group) leaves its z out, as nansum does.
                let defined = !spread(column, estimator: config.stdEstimator).isNaN
                z.append(zip(column, standardized).map { r, a in r == nil || !defined ? nil : a })
            }
            for i in rows.indices {
                let scoredBy = (0..<functions).filter { rows[i][$0] != nil }
                var total = 0.0
                for f in scoredBy { if let zif = z[f][i] { total += zif * (config.rewardWeights?[f] ?? 1) } }
                summed.append(scoredBy.isEmpty ? nil : total)
            }
        }
        let s = stdAroundZero(summed.compactMap { $0 }, estimator: config.stdEstimator)
        let a = summed.map { x in
            guard let x, !isZeroStd(s), !s.isNaN else { return 0.0 }
            return x / (s + config.stdEpsilon)
        }
        let groupCount = batch.groups.count
        return (a, Array(repeating: 0, count: groupCount), Array(repeating: s, count: groupCount))
    }

    /// The std of values whose mean is 0 by construction: sqrt( sum_k x_k^2 / d ), d = n - 1
    /// (sample) or n (population); NaN when there are too few values.
    static func stdAroundZero(_ xs: [Double], estimator: GRPOConfig.StdEstimator) -> Double {
        let d = Double(estimator == .sample ? xs.count - 1 : xs.count)
        guard d >= 1 else { return .nan }
        var squares = 0.0
        for x in xs { squares += x * x }
        return sqrt(squares / d)
    }
}
