import GRPO

/// One training setting as text: its key, meaning, accepted values, and whether changing it
/// starts a new run. `TrainingSettings.options` is the table behind `set key=value`, `show
/// settings` and Tab completion, as `GRPOConfig.options` is for the loss.
public struct TrainingOption: Sendable {
    public let key: String
    public let summary: String
    /// The accepted values as shown to a person.
    public let accepted: String
    /// Values offered by Tab completion.
    public let suggestions: [String]
    /// True when the setting shapes the policy or seeds the run (`task`, `max_completion_length`,
    /// `seed`): changing it through `Trainer.set` starts a new run.
    public let startsNewRun: Bool
    public let get: @Sendable (TrainingSettings) -> String
    let apply: @Sendable (inout TrainingSettings, String) throws(ConfigError) -> Void
}

extension TrainingSettings {
    public static func option(named key: String) -> TrainingOption? {
        options.first { $0.key == key }
    }

    /// Sets `key` to `value`; on error nothing changes and the message names the key and what it accepts.
    public mutating func set(_ key: String, to value: String) throws(ConfigError) {
        guard let option = Self.option(named: key) else {
            throw ConfigError("unknown setting '\(key)'; settings are: \(Self.options.map(\.key).joined(separator: ", "))")
        }
        var copy = self
        try option.apply(&copy, value.trimmingWhitespace)
        self = copy
    }

    /// Checks every field against the ranges of `options` (for settings built in code or read
    /// from a file).
    public func validate() throws(ConfigError) {
        var copy = self
        for (key, value) in values { try copy.set(key, to: value) }
    }

    /// The settings as (key, value) pairs in table order.
    public var values: [(key: String, value: String)] {
        Self.options.map { ($0.key, $0.get(self)) }
    }

    public static let options: [TrainingOption] = [
        TrainingOption(
            key: "task", summary: "the task: its prompts, tokens and reward", accepted: "one of " + TaskCatalog.names.joined(separator: ", "),
            suggestions: TaskCatalog.names, startsNewRun: true, get: { $0.task },
            apply: { settings, text throws(ConfigError) in
                guard TaskCatalog.named(text) != nil else {
                    throw ConfigError("task must be one of \(TaskCatalog.names.joined(separator: ", ")), not '\(text)'")
                }
                settings.task = text
            }),
        integer("num_generations", "G: completions sampled per prompt (lesson 02)", \.numGenerations, 2, 256),
        integer("prompts_per_iteration", "prompts per iteration (B = prompts * G completions)", \.promptsPerIteration, 1, 64),
        integer("num_iterations", "mu: inner updates on each batch; 1 = on-policy (lesson 03)", \.numIterations, 1, 64),
        number("learning_rate", "optimizer step size", \.learningRate, 0, 100),
        choice("optimizer", "update rule: adam or sgd (changing it resets Adam's moments)", \.optimizer),
        number("temperature", "logits / T when sampling and scoring", \.temperature, 0, 100),
        integer("max_completion_length", "longest completion, and dr_grpo's divisor", \.maxCompletionLength, 1, 64,
                startsNewRun: true),
        choice("path", "which loss path drives training (lesson 12)", \.path),
        TrainingOption(
            key: "cross_check", summary: "run both paths every step and record the largest difference",
            accepted: "true or false", suggestions: ["true", "false"], startsNewRun: false,
            get: { $0.crossCheck ? "true" : "false" },
            apply: { settings, text throws(ConfigError) in settings.crossCheck = try parseFlag("cross_check", text) }),
        choice("sampler_precision", "the sampler's logit precision: exact, float16, bfloat16 (lesson 09)", \.samplerPrecision),
        TrainingOption(
            key: "sampler_temperature", summary: "the sampler's own temperature (none = temperature; lesson 09)",
            accepted: "none or a number in (0, 100]", suggestions: ["none"], startsNewRun: false,
            get: { $0.samplerTemperature.map(\.optionText) ?? "none" },
            apply: { settings, text throws(ConfigError) in
                if ["none", "off"].contains(text.lowercased()) {
                    settings.samplerTemperature = nil
                } else {
                    settings.samplerTemperature = try parseNumber("sampler_temperature", text, 0, 100)
                }
            }),
        integer("max_staleness", "k: the sampler's weights lag the trainer's by k updates (asynchronous RL)", \.maxStaleness, 0, 64),
        integer("weight_update_interval", "in-flight updates: the stale sampler takes newer weights every N tokens (0: never)",
                \.weightUpdateInterval, 0, 100_000),
        choice("old_logp_source", "old_logp when the sampler differs: trainer (rescored by theta) or sampler (its own; lesson 16)",
               \.oldLogpSource),
        TrainingOption(
            key: "seed", summary: "seeds prompts and samples: the same seed replays the same run",
            accepted: "a whole number in [0, 2^64)", suggestions: [], startsNewRun: true, get: { "\($0.seed)" },
            apply: { settings, text throws(ConfigError) in
                guard let seed = UInt64(text) else { throw ConfigError("seed must be a whole number in [0, 2^64), not '\(text)'") }
                settings.seed = seed
            }),
    ]
}

// MARK: - Builders for the table

private func parseNumber(_ key: String, _ text: String, _ lo: Double, _ hi: Double) throws(ConfigError) -> Double {
    guard let x = Double(decimalText: text), x.isFinite, x > lo, x <= hi else {
        throw ConfigError("\(key) must be a number in (\(lo.optionText), \(hi.optionText)], not '\(text)'")
    }
    return x
}

private func parseFlag(_ key: String, _ text: String) throws(ConfigError) -> Bool {
    guard let value = Bool(optionText: text) else { throw ConfigError("\(key) must be true or false, not '\(text)'") }
    return value
}

/// A number in (lo, hi].
private func number(_ key: String, _ summary: String, _ path: WritableKeyPath<TrainingSettings, Double> & Sendable,
                    _ lo: Double, _ hi: Double) -> TrainingOption {
    TrainingOption(
        key: key, summary: summary, accepted: "a number in (\(lo.optionText), \(hi.optionText)]", suggestions: [], startsNewRun: false,
        get: { $0[keyPath: path].optionText },
        apply: { settings, text throws(ConfigError) in settings[keyPath: path] = try parseNumber(key, text, lo, hi) })
}

private func integer(_ key: String, _ summary: String, _ path: WritableKeyPath<TrainingSettings, Int> & Sendable,
                     _ lo: Int, _ hi: Int, startsNewRun: Bool = false) -> TrainingOption {
    TrainingOption(
        key: key, summary: summary, accepted: "a whole number in [\(lo), \(hi)]", suggestions: [],
        startsNewRun: startsNewRun, get: { "\($0[keyPath: path])" },
        apply: { settings, text throws(ConfigError) in
            guard let n = Int(text), n >= lo, n <= hi else {
                throw ConfigError("\(key) must be a whole number in [\(lo), \(hi)], not '\(text)'")
            }
            settings[keyPath: path] = n
        })
}

private func choice<E: RawRepresentable & CaseIterable & Sendable>(
    _ key: String, _ summary: String, _ path: WritableKeyPath<TrainingSettings, E> & Sendable
) -> TrainingOption where E.RawValue == String {
    let names = E.allCases.map(\.rawValue)
    return TrainingOption(
        key: key, summary: summary, accepted: "one of " + names.joined(separator: ", "), suggestions: names,
        startsNewRun: false, get: { $0[keyPath: path].rawValue },
        apply: { settings, text throws(ConfigError) in
            guard let value = E(rawValue: text) else {
                throw ConfigError("\(key) must be one of \(names.joined(separator: ", ")), not '\(text)'")
            }
            settings[keyPath: path] = value
        })
}
