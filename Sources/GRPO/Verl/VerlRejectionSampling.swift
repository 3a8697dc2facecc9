#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// verl 0.9.1's rejection sampling of the rollout correction (`rollout_rs`,
/// `compute_rollout_rejection_mask`): tokens or whole completions whose rollout engine was too
/// far from the trainer leave the response mask before the advantages and the loss see it. With
/// log rho_t = clamp(old_logp_t - sampler_logp_t, +-20):
///
///     k1 = -log rho,   k2 = (log rho)^2 / 2,   k3 = exp(log rho) - 1 - log rho
///     token_kX        keep a token whose statistic passes
///     seq_sum_kX      keep a completion whose sum over its response tokens passes
///     seq_mean_kX     ... whose mean passes;   seq_max_k2 / k3: whose largest token passes
///
/// k1 passes inside [log lower, log upper] (one number u means lower 1/u), k2 and k3 at or below
/// the upper bound. Several options, comma separated, must all pass. Lesson 09.
public enum VerlRejectionSampling {
    static let supportedOptions = ["token_k1", "token_k2", "token_k3", "seq_sum_k1", "seq_sum_k2", "seq_sum_k3",
                          "seq_mean_k1", "seq_mean_k2", "seq_mean_k3", "seq_max_k2", "seq_max_k3"]

    /// Every `rollout_corr/rollout_rs_*` metric name `rejection` may return, over every option.
    public static let metricNames: [String] = supportedOptions.flatMap { option in
        ["mean", "max", "min", "fraction_high", "fraction_low", "std", "seq_mean", "seq_std", "seq_max", "seq_min",
         "seq_max_deviation", "seq_fraction_high", "seq_fraction_low", "masked_fraction", "seq_masked_fraction"]
            .map { "rollout_corr/rollout_rs_\(option)_\($0)" }
    } + ["rollout_corr/rollout_rs_masked_fraction", "rollout_corr/rollout_rs_seq_masked_fraction"]

    /// The response masks after rejection, and verl's `rollout_corr/rollout_rs_*` metrics.
    public static func rejection(_ batch: Batch, options: VerlOptions) throws(ConfigError)
        -> (masks: [[Bool]], metrics: [(name: String, value: Double)])
    {
        let masks = batch.completions.map { c in (0..<c.length).map { c.mask?[$0] ?? true } }
        guard let spec = options.rolloutRS else { return (masks, []) }
        guard let thresholdSpec = options.rolloutRSThreshold else {
            throw ConfigError("rollout_rs_threshold must be explicitly provided when rollout_rs is enabled (verl's check)")
        }
        var chosen: [String] = []
        for option in spec.split(separator: ",").map({ String($0).trimmingWhitespace }) where !option.isEmpty {
            guard supportedOptions.contains(option) else {
                throw ConfigError("Invalid rollout_rs option: \(option). Must be one of \(supportedOptions.sorted().joined(separator: ", ")) (verl's check)")
            }
            if !chosen.contains(option) { chosen.append(option) }
        }
        guard !chosen.isEmpty else { throw ConfigError("rollout_rs must contain at least one valid option (verl's check)") }
        let thresholds = try parse(thresholdSpec, for: chosen)
        let logRatios = batch.completions.map { c in
            (0..<c.length).map { min(max(c.oldLogp[$0] - (c.samplerLogp ?? c.oldLogp)[$0], -20), 20) }
        }
        var keep = masks.map { $0.map { _ in true } }
        var metrics: [(String, Double)] = []
        for (option, bounds) in zip(chosen, thresholds) {
            let (optionKeep, optionMetrics) = apply(option, bounds: bounds, logRatios: logRatios, masks: masks)
            keep = zip(keep, optionKeep).map { zip($0.0, $0.1).map { $0 && $1 } }
            metrics += optionMetrics
        }
        let n = Double(masks.joined().filter { $0 }.count)
        let rejected = zip(keep, masks).reduce(0) { $0 + zip($1.0, $1.1).filter { $1 && !$0 }.count }
        metrics.append(("rollout_rs_masked_fraction", Double(rejected) / (n + 1e-8)))
        let rowsHit = zip(keep, masks).filter { zip($0.0, $0.1).contains { $1 && !$0 } }.count
        metrics.append(("rollout_rs_seq_masked_fraction", VerlRolloutCorrection.float32Share(rowsHit, masks.count)))
        let final = zip(keep, masks).map { zip($0.0, $0.1).map { $0 && $1 } }
        return (final, metrics.map { (name: "rollout_corr/" + $0.0, value: $0.1) })
    }

    /// Per option: its upper bound and, for k1, its lower one (verl's `_parse_rollout_rs_thresholds`).
    static func parse(_ spec: String, for chosen: [String]) throws(ConfigError) -> [(upper: Double, lower: Double?)] {
        var specs = spec.split(separator: ",").map { String($0).trimmingWhitespace }.filter { !$0.isEmpty }
        guard !specs.isEmpty else { throw ConfigError("rollout_rs_threshold must contain at least one threshold value (verl's check)") }
        guard specs.count == 1 || specs.count == chosen.count else {
            throw ConfigError("rollout_rs_threshold expects either one threshold shared by all options or exactly \(chosen.count) thresholds to match the provided rollout_rs options (verl's check)")
        }
        if specs.count == 1 { specs = Array(repeating: specs[0], count: chosen.count) }
        var out: [(Double, Double?)] = []
        for (option, text) in zip(chosen, specs) {
            let parts = text.split(separator: "_", maxSplits: 1).map { Double(decimalText: String($0)) }
            guard parts.allSatisfy({ $0 != nil }) else { throw ConfigError("Invalid numeric threshold '\(text)' for option '\(option)'.") }
            if option.hasSuffix("k1") {
                let upper = parts.last!!, lower = parts.count == 2 ? parts[0]! : 1 / upper
                guard lower > 0, upper > 0 else { throw ConfigError("Thresholds for option '\(option)' must be positive, got \(text).") }
                guard lower <= upper else { throw ConfigError("Thresholds for option '\(option)' must be lower <= upper, got \(text).") }
                out.append((upper, lower))
            } else {
                guard parts.count == 1 else {
                    throw ConfigError("rollout_rs_threshold for option '\(option)' must provide a single upper bound without '_'. Received '\(text)'.")
                }
                guard parts[0]! > 0 else { throw ConfigError("Threshold for option '\(option)' must be positive, got \(text).") }
                out.append((parts[0]!, nil))
            }
        }
        return out
    }

    /// One option's keep mask (every position, as verl's) and its metrics.
    static func apply(_ option: String, bounds: (upper: Double, lower: Double?), logRatios: [[Double]], masks: [[Bool]])
        -> (keep: [[Bool]], metrics: [(String, Double)])
    {
        let isK1 = option.hasSuffix("k1")
        let statistic: (Double) -> Double = option.hasSuffix("k1") ? { -$0 } : option.hasSuffix("k2") ? { 0.5 * $0 * $0 } : { expm1($0) - $0 }
        let (high, low) = isK1 ? (log(bounds.upper), log(bounds.lower!)) : (bounds.upper, 0.0)
        func passes(_ x: Double) -> Bool { isK1 ? x >= low && x <= high : x <= high }
        let tokenStats = logRatios.map { $0.map(statistic) }
        let sequenceLevel = option.hasPrefix("seq_")
        // The per-completion statistic: the sum, mean or max over the response tokens (0 for a
        // completion without any); for token options, the mean (verl's masked_mean, m + 1e-8).
        let rowStats: [Double] = zip(tokenStats, masks).map { stats, mask in
            let kept = zip(stats, mask).filter(\.1).map(\.0)
            if option.hasPrefix("seq_sum") { return kept.reduce(0, +) }
            if option.hasPrefix("seq_max") { return kept.max() ?? 0 }
            return kept.reduce(0, +) / (Double(kept.count) + 1e-8)
        }
        let keep: [[Bool]] = sequenceLevel
            ? zip(rowStats, masks).map { s, mask in mask.map { _ in passes(s) } }
            : tokenStats.map { $0.map(passes) }
        // The statistic at each response token (a sequence option's at every token of its row).
        let perToken = sequenceLevel ? zip(rowStats, masks).map { s, mask in mask.map { _ in s } } : tokenStats
        let values = zip(perToken, masks).flatMap { zip($0.0, $0.1).filter(\.1).map(\.0) }
        let n = Double(values.count)
        let valid = zip(rowStats, masks).filter { $0.1.contains(true) }.map(\.0)
        let prefix = "rollout_rs_\(option)"
        var out: [(String, Double)] = [("\(prefix)_mean", values.reduce(0, +) / (n + 1e-8))]
        if sequenceLevel && !valid.isEmpty {
            out += [("\(prefix)_max", valid.max()!), ("\(prefix)_min", valid.min()!),
                    ("\(prefix)_fraction_high", VerlRolloutCorrection.float32Share(valid.filter { $0 > high }.count, valid.count)),
                    ("\(prefix)_fraction_low", isK1 ? VerlRolloutCorrection.float32Share(valid.filter { $0 < low }.count, valid.count) : 0)]
        } else {
            out += [("\(prefix)_max", values.max() ?? -.infinity), ("\(prefix)_min", values.min() ?? .infinity),
                    ("\(prefix)_fraction_high", Double(values.filter { $0 > high }.count) / (n + 1e-8)),
                    ("\(prefix)_fraction_low", isK1 ? Double(values.filter { $0 < low }.count) / (n + 1e-8) : 0)]
        }
        if n > 1 {
            let clamped = values.map { min(max($0, low), high) }
            let mean = clamped.reduce(0, +) / (n + 1e-8)
            out.append(("\(prefix)_std", sqrt(max(clamped.reduce(0) { $0 + $1 * $1 } / (n + 1e-8) - mean * mean, 0))))
        } else {
            out.append(("\(prefix)_std", 0))
        }
        if valid.isEmpty {
            out += ["seq_mean", "seq_std", "seq_max", "seq_min", "seq_max_deviation", "seq_fraction_high", "seq_fraction_low"]
                .map { ("\(prefix)_\($0)", 0) }
        } else {
            out += [("\(prefix)_seq_mean", valid.reduce(0, +) / Double(valid.count)),
                    ("\(prefix)_seq_std", valid.count > 1 ? Naive.std(valid, estimator: .sample) : 0),
                    ("\(prefix)_seq_max", valid.max()!), ("\(prefix)_seq_min", valid.min()!),
                    ("\(prefix)_seq_max_deviation", valid.map(abs).max()!),
                    ("\(prefix)_seq_fraction_high", VerlRolloutCorrection.float32Share(valid.filter { $0 > high }.count, valid.count))]
            if isK1 { out.append(("\(prefix)_seq_fraction_low", VerlRolloutCorrection.float32Share(valid.filter { $0 < low }.count, valid.count))) }
        }
        // How much this option alone rejects: tokens, and completions with a rejected token.
        let rejectedTokens = zip(keep, masks).reduce(0) { $0 + zip($1.0, $1.1).filter { $1 && !$0 }.count }
        out.append(("\(prefix)_masked_fraction", Double(rejectedTokens) / (n + 1e-8)))
        let validRows = masks.filter { $0.contains(true) }.count
        let hitRows = zip(keep, masks).filter { zip($0.0, $0.1).contains { $1 && !$0 } }.count
        out.append(("\(prefix)_seq_masked_fraction", validRows > 0 ? Double(hitRows) / Double(validRows) : 0))
        return (keep, out)
    }
}
