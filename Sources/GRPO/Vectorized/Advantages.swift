#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The vectorized path: the same loss as `Naive`, over the whole batch in one pass over its
/// tokens, with the gradient written out by hand (no autodiff). Each step maps to lines of TRL's
/// `GRPOTrainer._compute_loss` (advantages come from its `_generate_and_score_completions`):
///
/// 1. `Vectorized.advantages`: rewards viewed as (B/G, G); mean and std per row; A = (r - mean) / (std + eps)
/// 2. `Vectorized.entropyThreshold`: `get_high_entropy_mask`, a quantile of the valid entropies
/// 3. `Vectorized.samplerWeights`: TRL's `importance_sampling_ratio` (vLLM correction), when used
/// 4. `LossKernel.run` (Kernel.swift), per completion row, four tokens at a time in SIMD lanes:
///    `log_ratio = logp - old_logp`, `coef_1 = exp(...)` (or the sequence mean), `coef_2 = clamp(...)`,
///    `per_token_loss = -min(coef_1 A, coef_2 A)`, `* entropy_mask`, `+ beta * per_token_kl`,
///    the `loss_type` reduction, and d loss / d logp by the chain rule. Where TRL runs each line
///    over the whole (B, T) tensor, writing a new tensor each time, the kernel runs all of them
///    on four tokens while they are in registers: the batch is read once and the gradient
///    written once (`Kernel.swift` lists the lines in order).
/// 5. `VectorizedLoss.swift`: `lossAndGradient` (what training needs) and `breakdown` (every
///    per-token quantity, for `explain`), both the same kernel; rows split over the cores.
///
/// `VectorMath` (exp and expm1 as SIMD arithmetic) is what makes step 4 fast; it agrees with
/// libm to an ulp or two. Lesson 10 walks through the mapping.
public enum Vectorized {
    /// Group-relative advantages over flat rewards (B = groups * G), one pass per group:
    /// A_i = (r_i - mean_g) / (std + std_epsilon), r_i - mean_g for `scale_rewards=none`, and 0
    /// for a group whose own std is 0. Returns the advantages and, per group, the mean and the std
    /// (the batch std for `batch`). The mean, std and quotient are `Naive`'s own (a handful of
    /// numbers per group, nothing to vectorize), so rewards near 1e308, whose sum or squares
    /// overflow, get the same care on both paths.
    public static func advantages(rewards: [Double], groupSize g: Int, config: GRPOConfig)
        -> (advantages: [Double], mean: [Double], std: [Double])
    {
        let groups = rewards.count / g
        let batchStd = config.scaleRewards == .batch ? Naive.std(rewards, estimator: config.stdEstimator) : 0
        var advantages = [Double](repeating: 0, count: rewards.count)
        var means = [Double](repeating: 0, count: groups)
        var stds = [Double](repeating: 0, count: groups)
        for k in 0..<groups {
            let rows = (k * g)..<(k * g + g)
            let row = Array(rewards[rows])
            let m = Naive.mean(row)
            let spread = Naive.std(row, estimator: config.stdEstimator)
            let s = config.scaleRewards == .batch ? batchStd : spread
            means[k] = m
            stds[k] = s
            if Naive.isZeroStd(spread) { continue }  // all rewards equal: A stays 0
            for i in rows {
                advantages[i] = config.scaleRewards == .none
                    ? rewards[i] - m
                    : Naive.standardized(rewards[i], mean: m, std: s, epsilon: config.stdEpsilon)
            }
        }
        return (advantages, means, stds)
    }

    /// The entropy a token needs to keep its policy term: the (1 - rho) quantile of all valid
    /// entropies, linear interpolation, on float32 values as TRL takes it.
    public static func entropyThreshold(_ entropy: [Double], topQuantile rho: Double) -> Double {
        guard !entropy.isEmpty else { return 0 }
        var values = entropy.map { Float($0) }
        values.sort()
        return Double(Naive.torchQuantile(sorted: values, Float(1 - rho)))
    }

    /// The sampler/trainer correction weight of every token (see `Naive.samplerWeights`), one
    /// pass per row: exp of the token's (or the row's summed) old - sampler log-prob gap, then
    /// held to [C_min, C_max] by `Naive.boundedSamplerWeight`.
    public static func samplerWeights(_ flat: FlatBatch, config: GRPOConfig) -> [Double] {
        var weights = [Double](repeating: 0, count: flat.tokenCount)
        flat.oldLogp.withUnsafeBufferPointer { old in
            flat.samplerLogp.withUnsafeBufferPointer { sampler in
                weights.withUnsafeMutableBufferPointer { weights in
                    for i in 0..<flat.completionCount {
                        let row = flat.offsets[i]..<flat.offsets[i + 1]
                        samplerWeights(old: UnsafeBufferPointer(rebasing: old[row]),
                                       sampler: UnsafeBufferPointer(rebasing: sampler[row]),
                                       into: UnsafeMutableBufferPointer(rebasing: weights[row]), config: config)
                    }
                }
            }
        }
        return weights
    }

    /// The same for a batch's completions, read in place; row i lands at `offsets[i]...`.
    static func samplerWeights(_ completions: [Completion], offsets: [Int], config: GRPOConfig) -> [Double] {
        var weights = [Double](repeating: 0, count: offsets.last ?? 0)
        weights.withUnsafeMutableBufferPointer { weights in
            for (i, c) in completions.enumerated() {
                c.oldLogp.withUnsafeBufferPointer { old in
                    c.samplerLogp!.withUnsafeBufferPointer { sampler in
                        samplerWeights(old: old, sampler: sampler,
                                       into: UnsafeMutableBufferPointer(rebasing: weights[offsets[i]..<offsets[i + 1]]),
                                       config: config)
                    }
                }
            }
        }
        return weights
    }

    /// One row's weights.
    static func samplerWeights(old: UnsafeBufferPointer<Double>, sampler: UnsafeBufferPointer<Double>,
                               into weights: UnsafeMutableBufferPointer<Double>, config: GRPOConfig) {
        let n = weights.count
        switch config.vllmImportanceSamplingMode {
        case .tokenTruncate, .tokenMask:
            for t in 0..<n { weights[t] = Naive.boundedSamplerWeight(exp(old[t] - sampler[t]), config: config) }
        case .sequenceTruncate, .sequenceMask:
            var logRho = 0.0
            for t in 0..<n { logRho += old[t] - sampler[t] }
            let w = Naive.boundedSamplerWeight(exp(logRho), config: config)
            for t in 0..<n { weights[t] = w }
        }
    }
}
