/// A reason a configuration value was refused, as one line a person can act on.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One settable option: its TRL name, what it means, the values it accepts, and how to read and
/// write it as text. `GRPOConfig.options` is the single table that `--set key=value`, the REPL's
/// `set`, `show config` and Tab completion all read.
public struct ConfigOption: Sendable {
    /// What kind of value the option holds, for writing it as JSON with the right type.
    public enum Kind: Sendable {
        case number, optionalNumber, integer, flag, choice
    }

    public let key: String
    public let kind: Kind
    public let summary: String
    /// The accepted values as shown to a person: choices (`grpo`, `dapo`, ...) or a range.
    public let accepted: String
    /// Values offered by Tab completion.
    public let suggestions: [String]
    public let get: @Sendable (GRPOConfig) -> String
    let apply: @Sendable (inout GRPOConfig, String) throws(ConfigError) -> Void

    /// Sets this option from text, leaving `config` unchanged when the text is refused.
    public func set(_ text: String, in config: inout GRPOConfig) throws(ConfigError) {
        var copy = config
        try apply(&copy, text)
        config = copy
    }
}

extension GRPOConfig {
    /// Looks up an option by its key (`loss_type`, `epsilon`, ...) or a name TRL has retired.
    public static func option(named key: String) -> ConfigOption? {
        let key = currentName(of: key)
        return options.first { $0.key == key }
    }

    /// TRL's current name for an option it has renamed (it still reads the old one); the name
    /// itself otherwise.
    public static func currentName(of key: String) -> String {
        key == "vllm_importance_sampling_cap" ? "vllm_importance_sampling_clip_max" : key
    }

    /// Sets `key` to `value`; on error nothing changes and the message names the key and what it accepts.
    public mutating func set(_ key: String, to value: String) throws(ConfigError) {
        guard let option = Self.option(named: key) else {
            throw ConfigError("unknown option '\(key)'; options are: \(Self.options.map(\.key).joined(separator: ", "))")
        }
        try option.set(value, in: &self)
    }

    /// The options as (key, value) pairs in table order, for `show config` and JSON output.
    public var settings: [(key: String, value: String)] {
        Self.options.map { ($0.key, $0.get(self)) }
    }

    public static let options: [ConfigOption] = [
        choice("loss_type", "how per-token losses are averaged (lesson 06)", \.lossType),
        number("epsilon", "lower clip width: ratio >= 1 - epsilon", \.epsilon, 0, 1, upperOpen: true),
        optionalNumber("epsilon_high", "upper clip width: ratio <= 1 + epsilon_high (none = epsilon)",
                       \.epsilonHigh, 0, 100),
        optionalNumber("delta", "two-sided clip: cap the unclipped ratio at delta (none = off)",
                       \.delta, 1, 1e6, lowerOpen: true),
        number("beta", "weight of the KL penalty", \.beta, 0, 1e6),
        flag("use_bias_correction_kl", "multiply the per-token KL by the importance ratio",
             \.useBiasCorrectionKL),
        // TRL's GRPOConfig still reads the old booleans: True is "group", False is "none".
        choice("scale_rewards", "which std divides the centred rewards (lesson 02)", \.scaleRewards,
               aliases: ["true": "group", "false": "none"]),
        choice("importance_sampling_level", "ratio per token, or one per completion (GSPO)",
               \.importanceSamplingLevel),
        integer("max_completion_length", "the constant divisor of dr_grpo", \.maxCompletionLength,
                1, 1_000_000),
        number("top_entropy_quantile", "keep the policy term on this top share of tokens by entropy",
               \.topEntropyQuantile, 0, 1),
        choice("std_estimator", "sample (n-1) or population (n) std (lesson 02)", \.stdEstimator),
        number("std_epsilon", "added to the std before dividing (TRL 1e-4, verl 1e-6)",
               \.stdEpsilon, 0, 1),
        choice("kl_estimator", "per-token KL estimator: k1, k2 or k3 (lesson 05)", \.klEstimator),
        flag("vllm_importance_sampling_correction", "weigh tokens by the sampler/trainer ratio when sampler_logp is given",
             \.vllmImportanceSamplingCorrection),
        choice("vllm_importance_sampling_mode", "truncate or mask, per token or per sequence (lesson 08)",
               \.vllmImportanceSamplingMode),
        optionalNumber("vllm_importance_sampling_clip_max", "upper bound of the sampler/trainer weight (none = no bound)",
                       \.vllmImportanceSamplingClipMax, 0, 1e6, lowerOpen: true),
        optionalNumber("vllm_importance_sampling_clip_min", "lower bound of the sampler/trainer weight (none = no bound)",
                       \.vllmImportanceSamplingClipMin, 0, 1e6),
    ]

    /// Checks every field against the ranges of `options` (for configs built in code).
    public func validate() throws(ConfigError) {
        var copy = self
        for (key, value) in settings { try copy.set(key, to: value) }
    }
}

// MARK: - Builders for the option table

private func parseNumber(_ key: String, _ text: String) throws(ConfigError) -> Double {
    guard let x = Double(decimalText: text.trimmingWhitespace), x.isFinite else {
        throw ConfigError("\(key) must be a finite number, not '\(text)'")
    }
    return x
}

private func format(_ x: Double) -> String { x.optionText }

extension Double {
    /// A number written in decimal ("0.2", "-3", "1e-06"): Swift's own reader also takes hex
    /// ("0x10"), "nan" and "inf", which no option value should be.
    public init?(decimalText text: String) {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }),
              let x = Double(text) else { return nil }
        self = x
    }

    /// The number as an option value is written: 1 (not 1.0), 0.28, 1e-06; round-trips exactly.
    public var optionText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : "\(self)"
    }
}

private func rangeText(_ lo: Double, _ hi: Double, lowerOpen: Bool, upperOpen: Bool) -> String {
    "a number in \(lowerOpen ? "(" : "[")\(format(lo)), \(format(hi))\(upperOpen ? ")" : "]")"
}

private func check(_ key: String, _ x: Double, _ lo: Double, _ hi: Double,
                   lowerOpen: Bool, upperOpen: Bool) throws(ConfigError) {
    let tooLow = lowerOpen ? x <= lo : x < lo
    let tooHigh = upperOpen ? x >= hi : x > hi
    if tooLow || tooHigh {
        throw ConfigError("\(key) must be \(rangeText(lo, hi, lowerOpen: lowerOpen, upperOpen: upperOpen)), not \(format(x))")
    }
}

private func number(_ key: String, _ summary: String, _ path: WritableKeyPath<GRPOConfig, Double> & Sendable,
                    _ lo: Double, _ hi: Double, lowerOpen: Bool = false, upperOpen: Bool = false) -> ConfigOption {
    ConfigOption(
        key: key, kind: .number, summary: summary,
        accepted: rangeText(lo, hi, lowerOpen: lowerOpen, upperOpen: upperOpen), suggestions: [],
        get: { format($0[keyPath: path]) },
        apply: { config, text throws(ConfigError) in
            let x = try parseNumber(key, text)
            try check(key, x, lo, hi, lowerOpen: lowerOpen, upperOpen: upperOpen)
            config[keyPath: path] = x
        })
}

private func optionalNumber(_ key: String, _ summary: String,
                            _ path: WritableKeyPath<GRPOConfig, Double?> & Sendable,
                            _ lo: Double, _ hi: Double, lowerOpen: Bool = false) -> ConfigOption {
    ConfigOption(
        key: key, kind: .optionalNumber, summary: summary,
        accepted: "none or " + rangeText(lo, hi, lowerOpen: lowerOpen, upperOpen: false), suggestions: ["none"],
        get: { $0[keyPath: path].map(format) ?? "none" },
        apply: { config, text throws(ConfigError) in
            if ["none", "null", "off"].contains(text.trimmingWhitespace.lowercased()) {
                config[keyPath: path] = nil
                return
            }
            let x = try parseNumber(key, text)
            try check(key, x, lo, hi, lowerOpen: lowerOpen, upperOpen: false)
            config[keyPath: path] = x
        })
}

private func integer(_ key: String, _ summary: String, _ path: WritableKeyPath<GRPOConfig, Int> & Sendable,
                     _ lo: Int, _ hi: Int) -> ConfigOption {
    ConfigOption(
        key: key, kind: .integer, summary: summary, accepted: "a whole number in [\(lo), \(hi)]", suggestions: [],
        get: { "\($0[keyPath: path])" },
        apply: { config, text throws(ConfigError) in
            guard let n = Int(text.trimmingWhitespace) else {
                throw ConfigError("\(key) must be a whole number in [\(lo), \(hi)], not '\(text)'")
            }
            guard n >= lo, n <= hi else {
                throw ConfigError("\(key) must be a whole number in [\(lo), \(hi)], not \(n)")
            }
            config[keyPath: path] = n
        })
}

private func flag(_ key: String, _ summary: String, _ path: WritableKeyPath<GRPOConfig, Bool> & Sendable) -> ConfigOption {
    ConfigOption(
        key: key, kind: .flag, summary: summary, accepted: "true or false", suggestions: ["true", "false"],
        get: { $0[keyPath: path] ? "true" : "false" },
        apply: { config, text throws(ConfigError) in
            guard let value = Bool(optionText: text) else { throw ConfigError("\(key) must be true or false, not '\(text)'") }
            config[keyPath: path] = value
        })
}

/// `aliases` are other words for some values (another library's spelling), accepted when set.
private func choice<E: RawRepresentable & CaseIterable & Sendable>(
    _ key: String, _ summary: String, _ path: WritableKeyPath<GRPOConfig, E> & Sendable, aliases: [String: String] = [:]
) -> ConfigOption where E.RawValue == String {
    let names = E.allCases.map(\.rawValue)
    let also = aliases.sorted { $0.key > $1.key }.map { "\($0.key) = \($0.value)" }
    return ConfigOption(
        key: key, kind: .choice, summary: summary,
        accepted: "one of " + names.joined(separator: ", ") + (also.isEmpty ? "" : " (" + also.joined(separator: ", ") + ")"),
        suggestions: names,
        get: { $0[keyPath: path].rawValue },
        apply: { config, text throws(ConfigError) in
            let word = text.trimmingWhitespace
            guard let value = E(rawValue: aliases[word] ?? word) else {
                throw ConfigError("\(key) must be one of \(names.joined(separator: ", ")), not '\(text)'")
            }
            config[keyPath: path] = value
        })
}

extension Bool {
    /// "true" or "false", in any case, as `accepted` says: nothing else.
    public init?(optionText text: String) {
        switch text.trimmingWhitespace.lowercased() {
        case "true": self = true
        case "false": self = false
        default: return nil
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines (no Foundation needed).
    public var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
