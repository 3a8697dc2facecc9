#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Naive {
    /// mean(x) = (1/n) sum_k x_k
    public static func mean(_ xs: [Double]) -> Double {
        var total = 0.0
        for x in xs { total += x }
        if total.isFinite { return total / Double(xs.count) }
        // The sum overflowed (rewards near 1e308): add up the shares x_k / n instead.
        var m = 0.0
        for x in xs { m += x / Double(xs.count) }
        return m
    }

    /// std(x) = sqrt( sum_k (x_k - mean)^2 / d ), with d = n - 1 for the sample estimator (torch.std,
    /// as TRL, verl and OpenRLHF take it; Bessel's correction) and d = n for the population one
    /// (`np.std` without ddof). Lesson 02.
    public static func std(_ xs: [Double], estimator: GRPOConfig.StdEstimator) -> Double {
        let m = mean(xs)
        var squares = 0.0
        for x in xs { squares += (x - m) * (x - m) }
        let divisor = estimator == .sample ? Double(xs.count - 1) : Double(xs.count)
        if squares.isFinite { return sqrt(squares / divisor) }
        // The squares overflowed: measure the deviations in units of the largest one, halved so
        // that x - mean itself cannot overflow.
        var largest = 0.0
        for x in xs { largest = max(largest, abs(x / 2 - m / 2)) }
        var scaled = 0.0
        for x in xs {
            let u = (x / 2 - m / 2) / largest
            scaled += u * u
        }
        return 2 * largest * sqrt(scaled / divisor)
    }

    /// (r - m) / (s + eps), halving everything when r - m overflows (rewards near 1e308).
    static func standardized(_ r: Double, mean m: Double, std s: Double, epsilon: Double) -> Double {
        let difference = r - m
        return difference.isFinite ? difference / (s + epsilon) : (r / 2 - m / 2) / (s / 2 + epsilon / 2)
    }

    /// Group-relative advantage, one number per completion, the same for all its tokens:
    ///
    ///     A_i = (r_i - mean(r_group)) / (std + std_epsilon)
    ///
    /// `scale_rewards=group` takes the std of the group, `batch` of every reward in the batch (the
    /// mean stays per group), `none` does not divide. A group whose rewards are all equal (std 0)
    /// gets A = 0 exactly for every completion, whatever `std_epsilon` is: it teaches nothing, and
    /// 0 / 0 must not become NaN. A nil reward (no reward function could score the completion) is
    /// left out of the mean and std and gets A = 0; a group with fewer than two rewards has no
    /// sample std (NaN) and all its A are 0, as in TRL. Lesson 02.
    ///
    /// Returns the advantages per group, and each group's mean and std (the batch std for `batch`).
    public static func advantages(rewards: [[Double?]], config: GRPOConfig)
        -> (advantages: [[Double]], mean: [Double], std: [Double])
    {
        let batchStd = spread(rewards.flatMap { $0 }, estimator: config.stdEstimator)
        var advantages: [[Double]] = []
        var means: [Double] = []
        var stds: [Double] = []
        for group in rewards {
            let scored = group.compactMap { $0 }
            let m = scored.isEmpty ? .nan : mean(scored)
            let own = spread(group, estimator: config.stdEstimator)
            let s = config.scaleRewards == .batch ? batchStd : own
            var a: [Double] = []
            for r in group {
                if let r, !isZeroStd(own), !own.isNaN, !s.isNaN {
                    a.append(config.scaleRewards == .none ? r - m : standardized(r, mean: m, std: s, epsilon: config.stdEpsilon))
                } else {
                    a.append(0)
                }
            }
            advantages.append(a)
            means.append(m)
            stds.append(s)
        }
        return (advantages, means, stds)
    }

    /// The std of the rewards that are there (NaN when too few: one for the sample estimator).
    static func spread(_ rewards: [Double?], estimator: GRPOConfig.StdEstimator) -> Double {
        let scored = rewards.compactMap { $0 }
        let needed = estimator == .sample ? 2 : 1
        return scored.count < needed ? .nan : std(scored, estimator: estimator)
    }

    /// The batch's advantages, one per completion (rows group after group), with each group's
    /// mean and std: as the completions give them, or from their rewards. Several reward
    /// functions are combined by `multi_objective_aggregation` (`RewardFunctions.swift`).
    public static func advantages(of batch: Batch, config: GRPOConfig) -> (advantages: [Double], mean: [Double], std: [Double]) {
        if batch.hasGivenAdvantages { return (batch.completions.map { $0.advantage ?? 0 }, [], []) }
        switch config.multiObjectiveAggregation {
        case .sumThenNormalize:
            let rewards = batch.groups.map { $0.completions.map { weightedReward($0, weights: config.rewardWeights) } }
            let (a, m, s) = advantages(rewards: rewards, config: config)
            return (a.flatMap { $0 }, m, s)
        case .normalizeThenSum:
            return normalizeThenSumAdvantages(batch, config: config)
        }
    }

    /// True when a std counts as zero (`TorchRules.isZeroStd`).
    public static func isZeroStd(_ std: Double) -> Bool { TorchRules.isZeroStd(std) }
}
