#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The vectorized path: the same loss as `Naive`, over the whole batch in one pass over its
/// tokens, with the gradient written out by hand (no autodiff). Each step maps to lines of TRL's
/// `GRPOTrainer._compute_loss` (advantages come from its `_generate_and_score_completions`):
///
/// 1. `Vectorized.advantages`: rewards viewed as (B/G, G), NaN for an unscorable one; nan-aware
///    mean and std per row; A = (r - mean) / (std + eps), or GDPO's per-function version
/// 2. `RowPasses.swift`: the loss mask (`completion_mask * tool_mask`), `get_high_entropy_mask`'s
///    quantile, the vLLM `importance_sampling_ratio`, `get_off_policy_mask`, `get_gamma_weights`
/// 3. `LossKernel.run` (Kernel.swift), per completion row, four tokens at a time in SIMD lanes:
///    `log_ratio = logp - old_logp`, `coef_1 = exp(...)` (or the sequence mean), the objective of
///    the `loss_type`, `* off_policy_mask`, `* entropy_mask`, `* importance_sampling_ratio`,
///    `+ beta * per_token_kl`, the aggregation, and d loss / d logp by the chain rule. Where TRL
///    runs each line over the whole (B, T) tensor, writing a new tensor each time, the kernel runs
///    all of them on four tokens while they are in registers: the batch is read once and the
///    gradient written once (`Kernel.swift` lists the lines in order).
/// 4. `VectorizedLoss.swift`: `lossAndGradient` (what training needs) and `breakdown` (every
///    per-token quantity, for `explain`), both the same kernel; rows split over the cores; the
///    entropy bonus from the kernel's sums.
///
/// `VectorMath` (exp and expm1 as SIMD arithmetic) is what makes step 3 fast; it agrees with
/// libm to an ulp or two. Lesson 12 walks through the mapping.
public enum Vectorized {
    /// Group-relative advantages over flat rewards (B = groups * G, NaN where no reward function
    /// scored a completion), one pass per group, nan-aware as TRL's `nanmean` and `nanstd`:
    /// A_i = (r_i - mean_g) / (std + std_epsilon), r_i - mean_g for `scale_rewards=none`, and 0 for
    /// a group whose own std is 0 or undefined, and for an unscorable completion. Returns the
    /// advantages and, per group, the mean and the std (the batch std for `batch`). Rewards near
    /// 1e308, whose sum or squares overflow, are handled by `moments`.
    public static func advantages(rewards: [Double], groupSize g: Int, config: GRPOConfig)
        -> (advantages: [Double], mean: [Double], std: [Double])
    {
        let groups = rewards.count / g
        let batch = config.scaleRewards == .batch ? moments(rewards[...], estimator: config.stdEstimator) : nil
        var advantages = [Double](repeating: 0, count: rewards.count)
        var means = [Double](repeating: 0, count: groups)
        var stds = [Double](repeating: 0, count: groups)
        for k in 0..<groups {
            let rows = (k * g)..<(k * g + g)
            let own = moments(rewards[rows], estimator: config.stdEstimator)
            let s = batch?.std ?? own.std
            means[k] = own.mean
            stds[k] = s
            // All rewards equal, or too few to have a std: every A stays 0.
            if TorchRules.isZeroStd(own.std) || own.std.isNaN || s.isNaN { continue }
            for i in rows where !rewards[i].isNaN {
                switch config.scaleRewards {
                case .none: advantages[i] = rewards[i] - own.mean
                case .group, .batch: advantages[i] = quotient(rewards[i] - own.mean, s + config.stdEpsilon,
                                                              orHalves: (rewards[i], own.mean, s, config.stdEpsilon))
                }
            }
        }
        return (advantages, means, stds)
    }

    /// Mean and std of the values that are not NaN: sum / n, and sqrt(sum (x - mean)^2 / d) with
    /// d = n - 1 (sample) or n (population); the std is NaN with fewer values than d needs. When a
    /// sum overflows (values near 1e308) the same moments are taken in units of the largest |x|.
    static func moments(_ x: ArraySlice<Double>, estimator: GRPOConfig.StdEstimator) -> (mean: Double, std: Double) {
        var sum = 0.0, n = 0.0
        for v in x where !v.isNaN {
            sum += v
            n += 1
        }
        let d = estimator == .sample ? n - 1 : n
        var mean = sum / n
        if !sum.isFinite, n > 0 {
            let unit = x.reduce(0.0) { $1.isNaN ? $0 : Swift.max($0, $1.magnitude) }
            let scaled = moments(x.map { $0 / unit }[...], estimator: estimator)
            return (scaled.mean * unit, scaled.std * unit)
        }
        if n == 0 { mean = .nan }
        var squares = 0.0
        for v in x where !v.isNaN { squares += (v - mean) * (v - mean) }
        if !squares.isFinite, n > 0 {
            let unit = x.reduce(0.0) { $1.isNaN ? $0 : Swift.max($0, $1.magnitude) }
            return (mean, moments(x.map { $0 / unit }[...], estimator: estimator).std * unit)
        }
        return (mean, d < 1 ? .nan : (squares / d).squareRoot())
    }

    /// a / b, or where a (a reward minus the mean) overflowed, the same quotient with every term
    /// halved.
    @inline(__always)
    static func quotient(_ a: Double, _ b: Double, orHalves t: (r: Double, mean: Double, std: Double, epsilon: Double)) -> Double {
        a.isFinite ? a / b : (t.r / 2 - t.mean / 2) / (t.std / 2 + t.epsilon / 2)
    }

    /// The batch's advantages, one per completion: as given, or from the rewards (several reward
    /// functions combined by `multi_objective_aggregation`: the weighted nan-sum first, or GDPO's
    /// per-function standardization first).
    static func advantages(of batch: Batch, config: GRPOConfig) -> (advantages: [Double], mean: [Double], std: [Double]) {
        let completions = batch.completions
        if batch.hasGivenAdvantages { return (completions.map { $0.advantage ?? 0 }, [], []) }
        let functions = completions[0].rewardsPerFunction?.count ?? 1
        // TRL's rewards_per_func: (B, functions), NaN where a function could not score.
        var table = [Double](repeating: .nan, count: completions.count * functions)
        for (i, c) in completions.enumerated() {
            for f in 0..<functions {
                if let row = c.rewardsPerFunction { table[i * functions + f] = row[f] ?? .nan } else { table[i * functions + f] = c.reward }
            }
        }
        let weights = config.rewardWeights ?? Array(repeating: 1, count: functions)
        switch config.multiObjectiveAggregation {
        case .sumThenNormalize:
            return advantages(rewards: weightedNanSum(table, functions: functions, weights: weights),
                              groupSize: batch.groupSize, config: config)
        case .normalizeThenSum:
            // z_if: each function standardized within its group; NaN where it has no value or its
            // group has no std (one value), which the nan-sum then leaves out.
            var z = [Double](repeating: .nan, count: table.count)
            let g = batch.groupSize
            var perFunction = config
            perFunction.scaleRewards = .group
            for f in 0..<functions {
                let column = stride(from: f, to: table.count, by: functions).map { table[$0] }
                let (a, _, s) = advantages(rewards: column, groupSize: g, config: perFunction)
                for i in 0..<completions.count where !s[i / g].isNaN && !column[i].isNaN { z[i * functions + f] = a[i] }
            }
            // s_i, standardized over the batch around its mean, which is 0 by construction (each
            // group's z sum to 0; see `Naive.normalizeThenSumAdvantages`).
            let summed = weightedNanSum(z, functions: functions, weights: weights, unscorable: table)
            var squares = 0.0, n = 0.0
            for x in summed where !x.isNaN {
                squares += x * x
                n += 1
            }
            let d = config.stdEstimator == .sample ? n - 1 : n
            let s = d < 1 ? .nan : (squares / d).squareRoot()
            let a = summed.map { x in x.isNaN || s.isNaN || TorchRules.isZeroStd(s) ? 0 : x / (s + config.stdEpsilon) }
            return (a, Array(repeating: 0, count: batch.groups.count), Array(repeating: s, count: batch.groups.count))
        }
    }

    /// sum_f w_f x_if over the entries that are not NaN, per row; NaN for a row whose entries in
    /// `unscorable` (the raw rewards) are all NaN.
    static func weightedNanSum(_ x: [Double], functions: Int, weights: [Double], unscorable: [Double]? = nil) -> [Double] {
        let raw = unscorable ?? x
        return (0..<(x.count / functions)).map { i in
            var total = 0.0, scored = false
            for f in 0..<functions {
                if !raw[i * functions + f].isNaN { scored = true }
                let v = x[i * functions + f]
                if !v.isNaN { total += v * weights[f] }
            }
            return scored ? total : .nan
        }
    }
}
