#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// verl 0.9.1's decoupled rollout correction (`rollout_corr_helper.py`): importance weights of
/// the policy term from the trainer's old log-probs against the rollout engine's (`sampler_logp`),
/// over each completion's response mask, log rho_t = old_logp_t - sampler_logp_t:
///
///     token     w_t = exp(clamp(log rho_t, +-20))
///     sequence  w_t = exp(clamp(sum_t log rho_t, +-20))        (the same at every token of the row)
///
/// then truncated at the threshold (TIS: min(w, upper)), or, with a "lower_upper" threshold,
/// zeroed outside [lower, upper] (IcePop); with `rollout_is_batch_normalize`, divided by their
/// mean. They multiply the policy term (`Completion.policyWeight`). Lesson 09.
public enum VerlRolloutCorrection {
    /// The `rollout_corr/rollout_is_*` metric names (`isMetrics`, the IcePop and normalization ones).
    public static let metricNames = [
        "rollout_is_max", "rollout_is_min", "rollout_is_mean", "rollout_is_ratio_fraction_high",
        "rollout_is_ratio_fraction_low", "rollout_is_std", "rollout_is_eff_sample_size", "rollout_is_seq_mean",
        "rollout_is_seq_std", "rollout_is_seq_max", "rollout_is_seq_min", "rollout_is_seq_max_deviation",
        "rollout_is_seq_fraction_high", "rollout_is_seq_fraction_low", "rollout_is_oob_ratio", "rollout_is_batch_norm_factor",
    ].map { "rollout_corr/" + $0 }

    /// The weights of every completion's tokens (0 outside the response mask) and verl's
    /// `rollout_corr/rollout_is_*` metrics, taken before the batch normalization.
    public static func weights(_ batch: Batch, options: VerlOptions) throws(ConfigError)
        -> (weights: [[Double]], metrics: [(name: String, value: Double)])
    {
        guard let level = options.rolloutIS else { return ([], []) }
        guard batch.completions.contains(where: { c in (0..<c.length).contains { c.mask?[$0] ?? true } }) else {
            throw ConfigError("response_mask must contain at least one valid token (verl's check of rollout_is)")
        }
        guard level == "token" || level == "sequence" else {
            throw ConfigError("Invalid rollout_is: \(level). Must be one of token, sequence (verl's check)")
        }
        let (upper, lower) = try threshold(options.rolloutISThreshold)
        let completions = batch.completions
        let masks = completions.map { c in (0..<c.length).map { c.mask?[$0] ?? true } }
        var raw: [[Double]] = [], logRatioSums: [Double] = []
        for (c, mask) in zip(completions, masks) {
            let sampler = c.samplerLogp ?? c.oldLogp
            let logRatios = (0..<c.length).map { c.oldLogp[$0] - sampler[$0] }
            let sum = zip(logRatios, mask).reduce(0.0) { $0 + ($1.1 ? $1.0 : 0) }
            logRatioSums.append(sum)
            raw.append(zip(logRatios, mask).map { x, kept in
                kept ? exp(clamp(level == "token" ? x : sum)) : 0
            })
        }
        var weights = raw.map { row in
            row.map { w in lower.map { w >= $0 && w <= upper ? w : 0 } ?? min(w, upper) }
        }
        // verl's effective sample size, 1 / mean((w / mean w)^2), divides by zero (and raises)
        // when every weight at the response tokens is 0 (IcePop bounds nothing meets).
        guard zip(weights, masks).contains(where: { zip($0.0, $0.1).contains { $1 && $0 > 0 } }) else {
            throw ConfigError("every rollout_is weight is 0 at the response tokens: verl's effective sample size divides by zero there (ZeroDivisionError)")
        }
        var metrics = isMetrics(weights: weights, raw: raw, logRatioSums: logRatioSums, masks: masks, level: level,
                                upper: upper, lower: lower)
        if let lower {
            let outside = zip(raw, masks).reduce(0.0) { $0 + Double(zip($1.0, $1.1).filter { $1 && ($0 < lower || $0 > upper) }.count) }
            metrics.append(("rollout_corr/rollout_is_oob_ratio", outside / (tokenCount(masks) + 1e-8)))
        }
        if options.rolloutISBatchNormalize {
            let mean = batchMean(weights, masks: masks, level: level)
            if mean > 1e-8 { weights = weights.map { $0.map { $0 / mean } } }
            metrics.append(("rollout_corr/rollout_is_batch_norm_factor", mean > 1e-8 ? mean : 1))
        }
        return (weights, metrics)
    }

    /// `rollout_is_threshold`: "upper" (TIS) or "lower_upper" (IcePop), both above 0, lower <= upper.
    static func threshold(_ spec: String) throws(ConfigError) -> (upper: Double, lower: Double?) {
        let parts = spec.split(separator: "_", maxSplits: 1).map { Double(decimalText: String($0).trimmingWhitespace) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { throw ConfigError("Invalid rollout_is_threshold '\(spec)'.") }
        let upper = parts.last!!, lower = parts.count == 2 ? parts[0] : nil
        guard upper > 0 else { throw ConfigError("rollout_is_threshold upper bound must be positive, got \(upper).") }
        if let lower {
            guard lower > 0 else { throw ConfigError("rollout_is_threshold lower bound must be positive, got \(lower).") }
            guard lower <= upper else { throw ConfigError("rollout_is_threshold lower bound must be <= upper bound.") }
        }
        return (upper, lower)
    }

    static func clamp(_ x: Double) -> Double { min(max(x, -20), 20) }

    static func tokenCount(_ masks: [[Bool]]) -> Double { Double(masks.reduce(0) { $0 + $1.filter { $0 }.count }) }

    /// The mean the batch normalization divides by: over the response tokens (token level), or
    /// over the completions with any, of each one's mean weight (sequence level).
    static func batchMean(_ weights: [[Double]], masks: [[Bool]], level: String) -> Double {
        if level == "token" { return maskedSum(weights, masks) / (tokenCount(masks) + 1e-8) }
        var sum = 0.0, rows = 0.0
        for (row, mask) in zip(weights, masks) where mask.contains(true) {
            sum += rowMean(row, mask)
            rows += 1
        }
        return sum / max(rows, 1e-8)
    }

    static func maskedSum(_ values: [[Double]], _ masks: [[Bool]]) -> Double {
        zip(values, masks).reduce(0.0) { total, pair in total + zip(pair.0, pair.1).reduce(0.0) { $0 + ($1.1 ? $1.0 : 0) } }
    }

    /// verl's `masked_mean(..., axis=-1)` of one row: sum / (m + 1e-8).
    static func rowMean(_ row: [Double], _ mask: [Bool]) -> Double {
        zip(row, mask).reduce(0.0) { $0 + ($1.1 ? $1.0 : 0) } / (Double(mask.filter { $0 }.count) + 1e-8)
    }

    /// k / n as verl takes it, `.float().mean()` of a boolean tensor: in float32.
    static func float32Share(_ k: Int, _ n: Int) -> Double { Double(Float(k) / Float(max(n, 1))) }

    /// verl's `compute_is_metrics` (prefixed `rollout_corr/`).
    static func isMetrics(weights: [[Double]], raw: [[Double]], logRatioSums: [Double], masks: [[Bool]], level: String,
                          upper: Double, lower: Double?) -> [(name: String, value: Double)] {
        let low = lower ?? 1 / upper
        let n = tokenCount(masks)
        let masked = zip(weights, masks).flatMap { zip($0.0, $0.1).filter(\.1).map(\.0) }
        var out: [(String, Double)] = []
        if level == "sequence" {
            out.append(("rollout_is_max", exp(min(logRatioSums.max() ?? 0, 20))))
            out.append(("rollout_is_min", exp(logRatioSums.min() ?? 0)))
            out.append(("rollout_is_mean", maskedSum(weights, masks) / (n + 1e-8)))
            out.append(("rollout_is_ratio_fraction_high", float32Share(logRatioSums.filter { $0 > log(upper) }.count, logRatioSums.count)))
            out.append(("rollout_is_ratio_fraction_low", float32Share(logRatioSums.filter { $0 < log(low) }.count, logRatioSums.count)))
        } else {
            let rawMasked = zip(raw, masks).flatMap { zip($0.0, $0.1).filter(\.1).map(\.0) }
            out.append(("rollout_is_mean", maskedSum(weights, masks) / (n + 1e-8)))
            out.append(("rollout_is_ratio_fraction_high", Double(rawMasked.filter { $0 > upper }.count) / (n + 1e-8)))
            out.append(("rollout_is_ratio_fraction_low", Double(rawMasked.filter { $0 < low }.count) / (n + 1e-8)))
            out.append(("rollout_is_max", masked.max() ?? -.infinity))
            out.append(("rollout_is_min", masked.min() ?? .infinity))
        }
        // std and effective sample size of the weights clamped into [0, upper].
        let clamped = masked.map { min(max($0, 0), upper) }
        let meanClamped = clamped.reduce(0, +) / (n + 1e-8)
        let variance = clamped.reduce(0) { $0 + $1 * $1 } / (n + 1e-8) - meanClamped * meanClamped
        out.append(("rollout_is_std", n > 1 ? sqrt(max(variance, 0)) : 0))
        let normalized = clamped.map { $0 / (meanClamped + 1e-8) }
        out.append(("rollout_is_eff_sample_size", 1 / (normalized.reduce(0) { $0 + $1 * $1 } / (n + 1e-8))))
        // Per completion: the mean weight over its response tokens.
        let seqMeans = zip(weights, masks).map { rowMean($0.0, $0.1) }
        let b = Double(max(seqMeans.count, 1))
        let seqMean = seqMeans.reduce(0, +) / b
        out.append(("rollout_is_seq_mean", seqMean))
        out.append(("rollout_is_seq_std", seqMeans.count > 1 ? Naive.std(seqMeans, estimator: .sample) : 0))
        out.append(("rollout_is_seq_max", seqMeans.max() ?? 0))
        out.append(("rollout_is_seq_min", seqMeans.min() ?? 0))
        out.append(("rollout_is_seq_max_deviation", seqMeans.map { abs($0 - 1) }.max() ?? 0))
        let rawSeqMeans = zip(raw, masks).map { rowMean($0.0, $0.1) }
        out.append(("rollout_is_seq_fraction_high", float32Share(rawSeqMeans.filter { $0 > upper }.count, rawSeqMeans.count)))
        out.append(("rollout_is_seq_fraction_low", float32Share(rawSeqMeans.filter { $0 < low }.count, rawSeqMeans.count)))
        return out.map { (name: "rollout_corr/" + $0.0, value: $0.1) }
    }
}
