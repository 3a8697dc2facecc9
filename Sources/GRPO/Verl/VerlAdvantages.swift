#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// verl 0.9.1's advantage estimators from outcome rewards (`core_algos.py`,
/// `compute_*_outcome_advantage`), grouped as verl groups: by the prompt's uid, so groups may
/// differ in size. A completion's score is its reward (verl sums the token-level rewards, which
/// hold the reward at the completion's last token). One advantage per completion, broadcast to
/// the tokens its response mask keeps. Lesson 14.
public enum VerlAdvantages {
    /// The estimators computed here (verl's `AdvantageEstimator` names).
    public enum Estimator: String, Sendable, CaseIterable {
        /// (r - mean) / (std + 1e-6), std unbiased; r - mean without `norm_adv_by_std_in_grpo`.
        case grpo
        /// Leave-one-out: n r / (n - 1) - n mean / (n - 1) = r - mean of the others; r alone in a group of one.
        case rloo
        /// The same, but 0 in a group of one.
        case rlooVectorized = "rloo_vectorized"
        /// r - the group's length-weighted mean reward (lengths: loss tokens).
        case opo
        /// Only each group's best: (r_max - r_second) (/ (std + 1e-6)); the rest 0. Groups of at least 2.
        case grpoPassK = "grpo_passk"
        /// r - group mean, then whitened over every loss token of the batch.
        case reinforcePlusPlusBaseline = "reinforce_plus_plus_baseline"
        /// The return (gamma 1: r at every loss token before a kept last token), whitened over the batch's loss tokens.
        case reinforcePlusPlus = "reinforce_plus_plus"
        /// alpha (r - group mean), alpha = B / (number of nonzero rewards).
        case gpg
        /// grpo's formula with the group statistics taken in float32 (`float32Statistics`), always
        /// divided by the std: verl's `compute_advantage` passes `norm_adv_by_std_in_grpo` to grpo
        /// only, so here it keeps its default, true.
        case grpoVectorized = "grpo_vectorized"
        /// GDPO: each reward function's rewards normalized as grpo does (always by the std), the
        /// results weighted by `gdpo_reward_weights` and summed, then whitened over the batch's
        /// response tokens. verl does all of it in float32; here in float64 (`gdpoAdvantages`).
        case gdpo
    }

    /// The names verl 0.9.1 registers, computed here or not.
    public static let verlNames = [
        "gae", "grpo", "reinforce_plus_plus", "reinforce_plus_plus_baseline", "remax", "rloo", "opo", "grpo_passk",
        "gpg", "rloo_vectorized", "grpo_vectorized", "optimal_token_baseline", "tir_optimal_token_baseline", "gdpo",
    ]

    /// The advantages of the batch's groups (one list per group) under `options`; `counted[g][i]`
    /// says which tokens of completion i of group g the response mask keeps; `perFunction`, the
    /// rewards of each reward function (gdpo), one list of groups per function.
    public static func advantages(rewards: [[Double]], counted: [[[Bool]]], perFunction: [[[Double]]] = [],
                                  options: VerlOptions) throws(ConfigError) -> [[Double]] {
        let estimator = try estimator(options)
        let lengths = counted.map { $0.map { Double($0.filter { $0 }.count) } }
        switch estimator {
        case .grpo:
            return rewards.map { group in
                let (m, s) = groupOfOneStatistics(group)
                return group.map { r in options.normAdvByStdInGRPO ? (r - m) / (s + 1e-6) : r - m }
            }
        case .rloo, .rlooVectorized:
            return rewards.map { group in
                let n = Double(group.count)
                guard group.count > 1 else { return estimator == .rloo ? group : [0] }
                let m = Naive.mean(group)
                return group.map { r in r * n / (n - 1) - m * n / (n - 1) }
            }
        case .opo:
            return try zip(rewards, lengths).enumerated().map { (g, pair) throws(ConfigError) in
                let (group, length) = pair
                guard group.count > 1 else { return group }  // baseline 0
                guard length.reduce(0, +) > 0 else { throw opoWithoutTokens(g) }
                let baseline = zip(group, length).reduce(0) { $0 + $1.0 * $1.1 } / length.reduce(0, +)
                return group.map { $0 - baseline }
            }
        case .grpoPassK:
            return try rewards.enumerated().map { (g, group) throws(ConfigError) in try passK(group, g, options) }
        case .reinforcePlusPlusBaseline:
            let centered = rewards.map { group in
                let m = groupOfOneStatistics(group).mean
                return group.map { $0 - m }
            }
            return try whitened(centered, counted: counted)
        case .reinforcePlusPlus:
            // gamma 1: the return at each kept token is the reward, if the last token (where it
            // sits) is kept; a masked last token drops it (verl's running return restarts there).
            let returns = zip(rewards, counted).map { group, masks in
                zip(group, masks).map { r, mask in mask.last == true ? r : 0 }
            }
            return try whitened(returns, counted: counted)
        case .grpoVectorized:
            return rewards.map { group in
                let (m, s) = float32Statistics(group)
                // (r - mean) in float64; std + 1e-6 in float32, as torch promotes them.
                return group.map { r in (r - Double(m)) / Double(s + Float(1e-6)) }
            }
        case .gdpo:
            return try gdpoAdvantages(perFunction.isEmpty ? [rewards] : perFunction, counted: counted, options: options)
        case .gpg:
            let nonzero = rewards.joined().filter { $0 != 0 }.count
            let alpha = Double(rewards.joined().count) / Double(max(nonzero, 1))
            return rewards.map { group in
                let m = groupOfOneStatistics(group).mean
                return group.map { alpha * ($0 - m) }
            }
        }
    }

    /// `adv_estimator` as an estimator computed here; an unknown name, or one verl has and this
    /// does not compute, is refused saying which.
    static func estimator(_ options: VerlOptions) throws(ConfigError) -> Estimator {
        if let estimator = Estimator(rawValue: options.advEstimator) { return estimator }
        guard verlNames.contains(options.advEstimator) else {
            throw ConfigError("adv_estimator must be one of verl's \(verlNames.joined(separator: ", ")), not '\(options.advEstimator)'")
        }
        throw ConfigError(options.notYet("adv_estimator \(options.advEstimator)"))
    }

    /// opo's baseline of a group none of whose tokens the loss counts: 0 / 0.
    static func opoWithoutTokens(_ g: Int) -> ConfigError {
        ConfigError("opo: no token of group \(g) counts, so its length-weighted baseline is 0/0 (verl's advantages there are NaN)")
    }

    /// A group's mean and unbiased std, except that a group of one gets mean 0 and std 1 (verl's
    /// rule, where TRL's sample std would be NaN): its advantage is then its reward itself.
    static func groupOfOneStatistics(_ group: [Double]) -> (mean: Double, std: Double) {
        guard group.count > 1 else { return (0, 1) }
        return (Naive.mean(group), Naive.std(group, estimator: .sample))
    }

    /// GDPO (`compute_gdpo_outcome_advantage`): sum_k w_k grpo_k(r_k), whitened over the response
    /// tokens (verl's `compute_advantage` does not pass `norm_adv_by_std_in_grpo` to it: always
    /// by the std).
    static func gdpoAdvantages(_ perFunction: [[[Double]]], counted: [[[Bool]]], options: VerlOptions) throws(ConfigError) -> [[Double]] {
        let weights = options.gdpoRewardWeights ?? Array(repeating: 1, count: perFunction.count)
        guard weights.count == perFunction.count else {
            throw ConfigError("gdpo_reward_weights has \(weights.count) weights for \(perFunction.count) reward functions")
        }
        var sum = counted.map { $0.map { _ in 0.0 } }
        for (k, rewards) in perFunction.enumerated() {
            for (g, group) in rewards.enumerated() {
                let (m, s) = groupOfOneStatistics(group)
                for (i, r) in group.enumerated() { sum[g][i] += weights[k] * (r - m) / (s + 1e-6) }
            }
        }
        // Equal advantages at every response token: verl whitens float32 rounding noise there
        // (divided by sqrt(1e-8)), a number that cannot be reproduced in float64.
        let kept = zip(sum, counted).flatMap { zip($0.0, $0.1).filter { !$0.1.filter { $0 }.isEmpty }.map(\.0) }
        if let low = kept.min(), let high = kept.max(), high - low <= 1e-6 * max(1, abs(high)) {
            throw ConfigError(options.notReproducible("gdpo when every response token has the same advantage (verl then whitens its float32 rounding noise)"))
        }
        return try whitened(sum, counted: counted)
    }

    /// verl's `group_mean_std` (grpo_vectorized): in float32, the sum of the rewards in order,
    /// mean = sum / n, the centered squares summed, var = that / max(n - 1, 1), std = sqrt(var);
    /// a group of one gets mean 0 and std 1.
    static func float32Statistics(_ group: [Double]) -> (mean: Float, std: Float) {
        guard group.count > 1 else { return (0, 1) }
        let scores = group.map { Float($0) }
        var sum: Float = 0
        for x in scores { sum += x }
        let mean = sum / Float(group.count)
        var squares: Float = 0
        for x in scores { squares += (x - mean) * (x - mean) }
        return (mean, (squares / Float(group.count - 1)).squareRoot())
    }

    /// grpo_passk: the group's best completion (the first of tied maxima) gets r_max - r_second,
    /// divided by std + 1e-6 with `norm_adv_by_std_in_grpo`; every other completion 0.
    static func passK(_ group: [Double], _ g: Int, _ options: VerlOptions) throws(ConfigError) -> [Double] {
        guard group.count >= 2 else {
            throw ConfigError("grpo_passk needs at least 2 completions per group (verl's check); group \(g) has \(group.count)")
        }
        let best = group.indices.max { group[$0] < group[$1] || (group[$0] == group[$1] && $0 > $1) }!
        let second = group.indices.filter { $0 != best }.map { group[$0] }.max()!
        var out = [Double](repeating: 0, count: group.count)
        let gap = group[best] - second
        out[best] = options.normAdvByStdInGRPO ? gap / (Naive.std(group, estimator: .sample) + 1e-6) : gap
        return out
    }

    /// verl's `masked_whiten` of one value per completion, repeated at each kept token: over the
    /// N kept tokens of the batch, (x - mean) / sqrt(var + 1e-8) with mean = sum / (N + 1e-8) and
    /// the unbiased var (times N / (N - 1)); verl refuses N < 2.
    static func whitened(_ values: [[Double]], counted: [[[Bool]]]) throws(ConfigError) -> [[Double]] {
        var sum = 0.0, n = 0.0
        for (group, masks) in zip(values, counted) {
            for (x, mask) in zip(group, masks) {
                let k = Double(mask.filter { $0 }.count)
                sum += x * k
                n += k
            }
        }
        guard n >= 2 else { throw ConfigError("verl whitens the advantages over the batch's loss tokens and needs at least 2; this batch has \(Int(n))") }
        let mean = sum / (n + 1e-8)
        var squares = 0.0
        for (group, masks) in zip(values, counted) {
            for (x, mask) in zip(group, masks) { squares += (x - mean) * (x - mean) * Double(mask.filter { $0 }.count) }
        }
        let variance = squares / (n + 1e-8) * (n / (n - 1))
        let scale = 1 / sqrt(variance + 1e-8)
        return values.map { $0.map { ($0 - mean) * scale } }
    }
}
