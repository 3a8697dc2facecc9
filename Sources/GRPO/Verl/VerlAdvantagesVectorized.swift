#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// verl's advantage estimators on flat arrays, the vectorized path's own implementation: the
/// batch's rewards back to back with group offsets, each group's statistics taken once in one
/// pass over its slice, the batch-wide whitening as two weighted sums. `VerlAdvantages.advantages`
/// is the specification it is tested against (`VerlAdvantageAgreementTests`). Lesson 14.
extension VerlAdvantages {
    /// Which implementation computes the advantages: the naive specification or the flat one.
    public enum Path: String, Sendable, CaseIterable {
        case naive, vectorized
    }

    /// A batch as the estimators read it, flat: one reward per completion, group after group.
    public struct FlatInputs: Sendable {
        public var rewards: [Double]
        /// G + 1 offsets into `rewards`: group g is `groupStarts[g] ..< groupStarts[g + 1]`.
        public var groupStarts: [Int]
        /// Per completion: the tokens its response mask keeps, and whether its last token is one.
        public var keptTokens: [Int]
        public var lastTokenKept: [Bool]
        /// gdpo: each reward function's rewards, laid out as `rewards`.
        public var perFunction: [[Double]]

        /// The flat form of the nested inputs `advantages` takes.
        public init(rewards: [[Double]], counted: [[[Bool]]], perFunction: [[[Double]]] = []) {
            self.rewards = rewards.flatMap { $0 }
            var starts = [0]
            for group in rewards { starts.append(starts[starts.count - 1] + group.count) }
            groupStarts = starts
            keptTokens = counted.flatMap { $0.map { $0.reduce(0) { $0 + ($1 ? 1 : 0) } } }
            lastTokenKept = counted.flatMap { $0.map { $0.last == true } }
            self.perFunction = perFunction.map { $0.flatMap { $0 } }
        }
    }

    /// One advantage per completion (in `rewards`' order) under `options`; throws what
    /// `advantages` throws.
    public static func vectorizedAdvantages(_ x: FlatInputs, options: VerlOptions) throws(ConfigError) -> [Double] {
        let estimator = try estimator(options)
        let groups = x.groupStarts.count - 1
        var out = [Double](repeating: 0, count: x.rewards.count)
        switch estimator {
        case .grpo, .gpg, .reinforcePlusPlusBaseline:
            let stats = groupStatistics(x.rewards, x.groupStarts)
            let nonzero = x.rewards.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            let alpha = Double(x.rewards.count) / Double(Swift.max(nonzero, 1))
            for g in 0..<groups {
                for k in x.groupStarts[g]..<x.groupStarts[g + 1] {
                    let centered = x.rewards[k] - stats.mean[g]
                    switch estimator {
                    case .grpo: out[k] = options.normAdvByStdInGRPO ? centered / (stats.std[g] + 1e-6) : centered
                    case .gpg: out[k] = alpha * centered
                    default: out[k] = centered
                    }
                }
            }
            if estimator == .reinforcePlusPlusBaseline { return try whiten(out, x.keptTokens) }
        case .rloo, .rlooVectorized:
            // The mean of the others: (n r - sum) / (n - 1).
            for g in 0..<groups {
                let slice = x.groupStarts[g]..<x.groupStarts[g + 1]
                let n = Double(slice.count), sum = slice.reduce(0.0) { $0 + x.rewards[$1] }
                for k in slice { out[k] = slice.count > 1 ? (n * x.rewards[k] - sum) / (n - 1) : (estimator == .rloo ? x.rewards[k] : 0) }
            }
        case .opo:
            for g in 0..<groups {
                let slice = x.groupStarts[g]..<x.groupStarts[g + 1]
                var weighted = 0.0, tokens = 0.0
                for k in slice {
                    weighted += x.rewards[k] * Double(x.keptTokens[k])
                    tokens += Double(x.keptTokens[k])
                }
                if slice.count > 1 && tokens == 0 { throw opoWithoutTokens(g) }
                let baseline = slice.count > 1 ? weighted / tokens : 0
                for k in slice { out[k] = x.rewards[k] - baseline }
            }
        case .grpoPassK:
            let stats = groupStatistics(x.rewards, x.groupStarts)
            for g in 0..<groups {
                let slice = x.groupStarts[g]..<x.groupStarts[g + 1]
                guard slice.count >= 2 else {
                    throw ConfigError("grpo_passk needs at least 2 completions per group (verl's check); group \(g) has \(slice.count)")
                }
                // One pass: the best (first of tied maxima) and the largest of the rest.
                var best = slice.lowerBound, second = -Double.infinity
                for k in slice.dropFirst() {
                    if x.rewards[k] > x.rewards[best] {
                        second = x.rewards[best]
                        best = k
                    } else {
                        second = Swift.max(second, x.rewards[k])
                    }
                }
                let gap = x.rewards[best] - second
                out[best] = options.normAdvByStdInGRPO ? gap / (stats.sampleStd[g] + 1e-6) : gap
            }
        case .reinforcePlusPlus:
            for k in out.indices { out[k] = x.lastTokenKept[k] ? x.rewards[k] : 0 }
            return try whiten(out, x.keptTokens)
        case .grpoVectorized:
            for g in 0..<groups {
                let slice = x.groupStarts[g]..<x.groupStarts[g + 1]
                let (mean, std) = float32Statistics(Array(x.rewards[slice]))
                for k in slice { out[k] = (x.rewards[k] - Double(mean)) / Double(std + Float(1e-6)) }
            }
        case .gdpo:
            let functions = x.perFunction.isEmpty ? [x.rewards] : x.perFunction
            let weights = options.gdpoRewardWeights ?? Array(repeating: 1, count: functions.count)
            guard weights.count == functions.count else {
                throw ConfigError("gdpo_reward_weights has \(weights.count) weights for \(functions.count) reward functions")
            }
            for (w, rewards) in zip(weights, functions) {
                let stats = groupStatistics(rewards, x.groupStarts)
                for g in 0..<groups {
                    for k in x.groupStarts[g]..<x.groupStarts[g + 1] { out[k] += w * (rewards[k] - stats.mean[g]) / (stats.std[g] + 1e-6) }
                }
            }
            let kept = out.indices.filter { x.keptTokens[$0] > 0 }.map { out[$0] }
            if let low = kept.min(), let high = kept.max(), high - low <= 1e-6 * Swift.max(1, abs(high)) {
                throw ConfigError(options.notReproducible("gdpo when every response token has the same advantage (verl then whitens its float32 rounding noise)"))
            }
            return try whiten(out, x.keptTokens)
        }
        return out
    }

    /// Each group's mean and unbiased std as torch takes them (the sum over n, then the centered
    /// squares: a one-pass update would round differently, and divided by a std near 0 that
    /// difference is what verl's numbers show), verl's group of one as mean 0 and std 1 (`std`),
    /// and the unbiased std itself (`sampleStd`, NaN for a group of one) for grpo_passk.
    static func groupStatistics(_ rewards: [Double], _ starts: [Int]) -> (mean: [Double], std: [Double], sampleStd: [Double]) {
        var means: [Double] = [], stds: [Double] = [], sample: [Double] = []
        for g in 0..<(starts.count - 1) {
            let slice = starts[g]..<starts[g + 1]
            let n = Double(slice.count)
            let mean = slice.reduce(0.0) { $0 + rewards[$1] } / n
            let squares = slice.reduce(0.0) { $0 + (rewards[$1] - mean) * (rewards[$1] - mean) }
            let s = sqrt(squares / (n - 1))
            sample.append(s)
            means.append(n > 1 ? mean : 0)
            stds.append(n > 1 ? s : 1)
        }
        return (means, stds, sample)
    }

    /// verl's `masked_whiten` of one value per completion, each counted `kept[k]` times: mean
    /// and unbiased variance over those N tokens (N + 1e-8 divides), then (x - mean) / sqrt(var + 1e-8).
    static func whiten(_ values: [Double], _ kept: [Int]) throws(ConfigError) -> [Double] {
        var n = 0.0, sum = 0.0
        for (x, k) in zip(values, kept) {
            n += Double(k)
            sum += x * Double(k)
        }
        guard n >= 2 else { throw ConfigError("verl whitens the advantages over the batch's loss tokens and needs at least 2; this batch has \(Int(n))") }
        let mean = sum / (n + 1e-8)
        var squares = 0.0
        for (x, k) in zip(values, kept) { squares += Double(k) * (x - mean) * (x - mean) }
        let scale = 1 / sqrt(squares * n / ((n + 1e-8) * (n - 1)) + 1e-8)
        return values.map { ($0 - mean) * scale }
    }
}
