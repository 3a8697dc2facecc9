#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The passes before the kernel: what it must know of every row (or of the whole batch) before it
/// reads a row's tokens. Each reads the rows through a `RowSource`, so a `FlatBatch` and a
/// `Batch` share them; each is written for the flat layout, independently of the naive path's
/// functions for the same terms (the agreement tests compare the two).
extension Vectorized {
    /// The loss mask as 1/0 per token and m_i per row, from each row's token mask and truncated
    /// flag; the mask is nil when the loss counts every token (TRL's `completion_mask * tool_mask`).
    static func lossMask(tokenMask: (Int) -> [Bool]?, truncated: (Int) -> Bool, offsets: [Int],
                         config: GRPOConfig) -> (mask: [Double]?, counted: [Int]) {
        let rows = offsets.count - 1
        var counted = (0..<rows).map { offsets[$0 + 1] - offsets[$0] }
        let dropsTruncated = config.maskTruncatedCompletions && (0..<rows).contains(where: truncated)
        let hasTokenMask = (0..<rows).contains { tokenMask($0)?.contains(false) ?? false }
        guard dropsTruncated || hasTokenMask else { return (nil, counted) }
        var mask = [Double](repeating: 1, count: offsets[rows])
        for i in 0..<rows {
            let dropped = config.maskTruncatedCompletions && truncated(i)
            let tokens = tokenMask(i)
            var m = 0
            for t in 0..<(offsets[i + 1] - offsets[i]) {
                let on = !dropped && (tokens?[t] ?? true)
                mask[offsets[i] + t] = on ? 1 : 0
                if on { m += 1 }
            }
            counted[i] = m
        }
        // Truncated completions without tokens: nothing is masked after all.
        return (mask.contains(0) ? mask : nil, counted)
    }

    /// The entropy a token needs to keep its policy term: the (1 - rho) quantile of the
    /// entropies of the counted tokens, on float32 values as TRL takes it (`TorchRules.quantile`).
    static func entropyThreshold<Source: RowSource>(_ source: Source, rows: Int, topQuantile rho: Double,
                                                    rank: GRPOConfig.QuantileRank) -> Double {
        var values: [Float] = []
        for i in 0..<rows {
            source.withRow(i) { row in
                guard let entropy = row.entropy else { return }
                for t in 0..<row.count where row.lossMask.map({ $0[t] != 0 }) ?? true { values.append(Float(entropy[t])) }
            }
        }
        guard !values.isEmpty else { return 0 }
        values.sort()
        return Double(TorchRules.quantile(sorted: values, Float(1 - rho), rank: rank))
    }

    /// The sampler/trainer correction weight of every token, flat: exp of the token's (or the
    /// row's summed, over its counted tokens) old - sampler log-prob gap, then clamped into
    /// [C_min, C_max] (truncate modes) or set to 0 outside it (mask modes).
    static func samplerWeights<Source: RowSource>(_ source: Source, offsets: [Int], config: GRPOConfig) -> [Double] {
        let mode = config.vllmImportanceSamplingMode
        @inline(__always) func bounded(_ rho: Double) -> Double { boundedWeight(rho, config: config) }
        var weights = [Double](repeating: 0, count: offsets.last ?? 0)
        for i in 0..<(offsets.count - 1) {
            source.withRow(i) { row in
                guard let sampler = row.samplerLogp else { return }
                let start = offsets[i]
                if mode.isSequenceLevel {
                    var gap = 0.0
                    for t in 0..<row.count where row.lossMask.map({ $0[t] != 0 }) ?? true { gap += row.oldLogp[t] - sampler[t] }
                    let w = bounded(exp(gap))
                    for t in 0..<row.count { weights[start + t] = w }
                } else {
                    for t in 0..<row.count { weights[start + t] = bounded(exp(row.oldLogp[t] - sampler[t])) }
                }
            }
        }
        return weights
    }

    /// rho clamped into [C_min, C_max] (truncate modes) or 0 outside it (mask modes).
    static func boundedWeight(_ rho: Double, config: GRPOConfig) -> Double {
        let low = config.vllmImportanceSamplingClipMin ?? -.infinity
        let high = config.vllmImportanceSamplingClipMax ?? .infinity
        return config.vllmImportanceSamplingMode.truncates ? Swift.min(Swift.max(rho, low), high) : (rho >= low && rho <= high ? rho : 0)
    }

    /// TRL's `sampling/*` metrics: |old - sampler| over the counted tokens (mean, max), and the
    /// sampler weights (min, mean, max) of the counted tokens, or one per row in the sequence
    /// modes (bounded(1) for a row without counted tokens); 0 where there is nothing to measure.
    static func samplingMetrics<Source: RowSource>(_ source: Source, offsets: [Int], weights: [Double], into m: inout Metrics,
                                                   config: GRPOConfig) {
        var gapSum = 0.0, gapMax = 0.0, gaps = 0.0
        var wMin = Double.infinity, wMax = -Double.infinity, wSum = 0.0, ws = 0.0
        func add(_ w: Double) {
            wMin = Swift.min(wMin, w)
            wMax = Swift.max(wMax, w)
            wSum += w
            ws += 1
        }
        for i in 0..<(offsets.count - 1) {
            source.withRow(i) { row in
                guard let sampler = row.samplerLogp else { return }
                var any = false
                for t in 0..<row.count where row.lossMask.map({ $0[t] != 0 }) ?? true {
                    let gap = (row.oldLogp[t] - sampler[t]).magnitude
                    gapSum += gap
                    gapMax = Swift.max(gapMax, gap)
                    gaps += 1
                    any = true
                    if !config.vllmImportanceSamplingMode.isSequenceLevel { add(weights[offsets[i] + t]) }
                }
                if config.vllmImportanceSamplingMode.isSequenceLevel {
                    add(any ? weights[offsets[i]] : boundedWeight(1, config: config))
                }
            }
        }
        m.samplingLogpDifferenceMean = gaps == 0 ? 0 : gapSum / gaps
        m.samplingLogpDifferenceMax = gapMax
        m.importanceSamplingRatioMin = ws == 0 ? 0 : wMin
        m.importanceSamplingRatioMean = ws == 0 ? 0 : wSum / ws
        m.importanceSamplingRatioMax = ws == 0 ? 0 : wMax
    }

    /// The off-policy sequence mask: false for a row with A < 0 whose mean (sampler, or old,
    /// logp - logp) over its counted tokens exceeds the threshold.
    static func offPolicyKeep<Source: RowSource>(_ source: Source, advantages: [Double], threshold: Double) -> [Bool] {
        advantages.indices.map { i in
            guard advantages[i] < 0 else { return true }
            return source.withRow(i) { row in
                let reference = row.samplerLogp ?? row.oldLogp
                var gap = 0.0, m = 0
                for t in 0..<row.count where row.lossMask.map({ $0[t] != 0 }) ?? true {
                    gap += reference[t] - row.logp[t]
                    m += 1
                }
                return gap / Double(Swift.max(m, 1)) <= threshold
            }
        }
    }

    /// VESPO's phi of every row: log w = clamp(sum of clamped log-ratios, plus the clamped log
    /// sampler weights when the correction is on, log 1e-8, 20), then
    /// phi = exp(lambda + k log w - lambda w) with (k, lambda) by the sign of A, 0 if not finite.
    static func vespoWeights<Source: RowSource>(_ source: Source, advantages: [Double], samplerWeights: [Double]?,
                                                offsets: [Int], config: GRPOConfig) -> [Double] {
        let floor = log(1e-8)
        return advantages.indices.map { i in
            source.withRow(i) { row in
                var logW = 0.0
                for t in 0..<row.count where row.lossMask.map({ $0[t] != 0 }) ?? true {
                    logW += Swift.min(Swift.max(row.logp[t] - row.oldLogp[t], -20), 20)
                    if let w = samplerWeights?[offsets[i] + t] { logW += Swift.min(Swift.max(log(w), floor), 20) }
                }
                logW = Swift.min(Swift.max(logW, floor), 20)
                let positive = advantages[i] >= 0
                let k = positive ? config.vespoKPos : config.vespoKNeg
                let lambda = Swift.max(positive ? config.vespoLambdaPos : config.vespoLambdaNeg, 1e-4)
                let phi = exp((k * logW + lambda) - lambda * exp(logW))
                return phi.isFinite ? phi : 0
            }
        }
    }
}
