import GRPO

/// Options: `set`, `preset`, `config`.
enum ConfigCommands {
    /// Splits "key=value", "key value", "key = value", "key =value" or "key= value" into a pair.
    static func keyValue(_ args: [String]) throws(CommandError) -> (String, String) {
        if args.count == 1, let eq = args[0].firstIndex(of: "="), eq != args[0].startIndex {
            return (String(args[0][..<eq]), String(args[0][args[0].index(after: eq)...]))
        }
        if args.count == 2, args[1].hasPrefix("=") { return (args[0], String(args[1].dropFirst())) }
        if args.count == 2, args[0].count > 1, args[0].hasSuffix("=") { return (String(args[0].dropLast()), args[1]) }
        if args.count == 2 { return (args[0], args[1]) }
        if args.count == 3, args[1] == "=" { return (args[0], args[2]) }
        throw CommandError("set takes key=value or key value (e.g. 'set beta=0'); 'config' lists the keys")
    }

    /// A list value written with spaces ('set reward_weights [1, 0.5]') as one word after the key:
    /// only for an option that takes a list, so every other 'set' reads its words as before.
    static func listJoined(_ args: [String]) -> [String] {
        guard args.count > 2 || (args.count == 2 && args[0].contains("=")) else { return args }
        let key = args[0].split(separator: "=", maxSplits: 1).first.map(String.init) ?? args[0]
        guard GRPOConfig.option(named: key)?.kind == .numberList else { return args }
        let rest = args.joined(separator: " ").dropFirst(key.count).drop { $0 == " " || $0 == "=" }
        return [key, String(rest.filter { $0 != " " })]
    }

    /// Sets `setting` to `value` and says what changed: "key: before -> after", noting a new run
    /// and the steps it discarded, or "key = value (unchanged)".
    static func change(_ setting: Setting, to value: String, in session: Session) throws(CommandError) -> String {
        let before = setting.get(session)
        let run = (settings: session.trainer.settings, steps: session.trainer.stepCount)
        let saved = session.workspace
        try setting.set(session, value)
        if let problem = samplerCorrectionProblem(session) {
            session.workspace = saved
            throw CommandError("\(setting.key) \(value) refused: \(problem); change the other option first"
                               + (setting.key == "vllm_importance_sampling_correction" ? "" : ", or 'set vllm_importance_sampling_correction false'"))
        }
        let after = setting.get(session)
        guard before != after else { return "\(setting.key) = \(after) (unchanged)" }
        // max_completion_length shows the batch file's value after 'explain': setting the tiny
        // policy's own value back changes what is shown, not the run.
        guard setting.startsNewRun, session.trainer.settings != run.settings else { return "\(setting.key): \(before) -> \(after)" }
        return "\(setting.key): \(before) -> \(after) (starts a new run" + (run.steps > 0 ? ": \(run.steps) step(s) discarded)" : ")")
    }

    /// With a sampler that differs from pi_old every batch carries sampler log-probs, so the
    /// correction's options must fit them now, not at the next step: what does not, naming the
    /// options and the sampler setting; nil when they fit or no correction applies.
    static func samplerCorrectionProblem(_ session: Session) -> String? {
        let training = session.trainer.settings, config = session.config
        guard session.library == .trl, training.hasSamplerMismatch, config.vllmImportanceSamplingCorrection else { return nil }
        do throws(BatchError) { try config.validateSamplerCorrection() } catch {
            var sampler: [String] = []
            if training.samplerPrecision != .exact { sampler.append("sampler_precision \(training.samplerPrecision.rawValue)") }
            if let t = training.samplerTemperature { sampler.append("sampler_temperature \(t.optionText)") }
            if training.maxStaleness > 0 { sampler.append("max_staleness \(training.maxStaleness)") }
            return error.message + ", and every batch has sampler log-probs (\(sampler.joined(separator: ", ")))"
        }
        return nil
    }

    /// TRL's warnings for `config` (`GRPOConfig.trlWarnings`) that are not among `earlier`.
    /// "  key: old -> new" for each option whose value differs between two `settings` lists.
    static func changeLines(_ before: [(key: String, value: String)], _ after: [(key: String, value: String)]) -> [String] {
        zip(before, after).filter { $0.value != $1.value }.map { "  \($0.key): \($0.value) -> \($1.value)" }
    }

    static func trlNotes(_ config: GRPOConfig, besides earlier: [String] = []) -> [String] {
        config.trlWarnings.filter { !earlier.contains($0) }.map { "note: TRL 1.16 warns (and trains anyway): \($0)" }
    }

    /// What `setting` accepts, as `config` shows it.
    static func accepted(_ setting: Setting, _ session: Session) -> String {
        // After 'explain', the batch file's length (e.g. 512) is shown, outside the tiny policy's range.
        let own = session.trainer.settings.maxCompletionLength
        guard setting.key == "max_completion_length", session.config.maxCompletionLength != own else { return setting.accepted }
        return setting.accepted + "; this value is the batch file's: rollout, step and train use the tiny policy's \(own)"
    }

    /// The tables of `config`: one per kind of option in `scopes`.
    static func configLines(_ session: Session, scopes: [Setting.Scope] = Setting.Scope.allCases) -> [String] {
        var lines: [String] = []
        for scope in scopes {
            let entries = session.settings.filter { $0.scope == scope }
            if entries.isEmpty { continue }
            let title = scope == .loss && session.library == .verl ? "loss options, verl 0.9.1's names ('set library trl': TRL's)" : "\(scope.rawValue) options"
            var table = Table(title: title, columns: [.text("key"), .text("value"), .text("accepts")])
            for s in entries { table.add([s.key, s.get(session), accepted(s, session)]) }
            if !lines.isEmpty { lines.append("") }
            lines += table.render()
        }
        return lines
    }

    /// Names a learner may know from papers, verl or other code, and the option each one is here.
    static let otherNames: [String: String] = [
        "lr": "the learning rate is 'learning_rate'",
        "mu": "mu (inner updates per batch) is 'num_iterations'",
        "G": "G (completions per prompt) is 'num_generations'",
        "group_size": "the group size G is 'num_generations'",
        "n_samples_per_prompt": "OpenRLHF's n_samples_per_prompt is 'num_generations'",
        "eps": "the clip width is 'epsilon'; 'epsilon_high' sets the upper side on its own",
        "clip_ratio": "verl's clip_ratio is 'epsilon' and 'epsilon_high' only where clip_ratio_low/high are null, and their defaults are 0.2",
        "clip_ratio_low": "verl's clip_ratio_low is 'epsilon'",
        "clip_ratio_high": "verl's clip_ratio_high is 'epsilon_high'",
        "clip_ratio_c": "verl's clip_ratio_c is 'delta' with 'delta_form' dual_clip",
        "kl_loss_type": "verl's kl_loss_type is 'kl_estimator'; low_var_kl is k3 with 'kl_clamp', a '+' is 'kl_straight_through'",
        "kl_coef": "the KL weight is 'beta'",
        "kl_loss_coef": "verl's kl_loss_coef (the KL weight) is 'beta'",
        "clip_range": "the clip width is 'epsilon'; 'epsilon_high' sets the upper side on its own",
        "cliprange": "the clip width is 'epsilon'; 'epsilon_high' sets the upper side on its own",
        "rho": "rho (the share of forking tokens kept) is 'top_entropy_quantile'",
    ]

    /// verl's option for a TRL one, for `set` under `library verl`.
    static let verlNames: [String: String] = [
        "epsilon": "'clip_ratio_low'", "epsilon_high": "'clip_ratio_high'", "delta": "'clip_ratio_c' (a dual clip)",
        "beta": "'kl_loss_coef', with 'use_kl_loss true'", "kl_estimator": "'kl_loss_type'",
        "entropy_coef": "'entropy_coeff'", "loss_type": "'loss_agg_mode' with 'loss_mode'",
        "scale_rewards": "'norm_adv_by_std_in_grpo'", "sapo_temperature_pos": "'tau_pos'", "sapo_temperature_neg": "'tau_neg'",
        "importance_sampling_level": "'loss_mode gspo'", "dro_beta": "'dro_beta'", "policy_objective": "'loss_mode'",
    ]

    /// The error for a key no setting has, with the name it has here when the learner used
    /// another library's, or the closest key.
    static func unknownOption(_ key: String, _ session: Session) -> CommandError {
        if session.library == .verl, GRPOConfig.option(named: key) != nil {
            let verl = verlNames[GRPOConfig.currentName(of: key)].map { "; verl's is \($0)" } ?? "; verl has no option for it"
            return CommandError("'\(Interpreter.shorten(key))' is TRL's name and the session speaks verl's (library verl)\(verl), "
                                + "or 'set library trl' ('config' lists every option)")
        }
        let suggestion = hint(for: key, among: session.settings.map(\.key)).map { "; \($0)" } ?? ""
        return CommandError("unknown option '\(Interpreter.shorten(key))'\(suggestion) ('config' lists every option)")
    }

    /// What an unknown key probably meant: our name for another library's (when that option is
    /// among `keys`: a batch file has the loss options only), or the closest of `keys`.
    static func hint(for key: String, among keys: [String]) -> String? {
        if let other = otherNames[key], keys.contains(where: { other.contains("'\($0)'") }) { return other }
        return Fmt.closest(key, in: keys).map { "did you mean '\($0)'?" }
    }

    /// What Tab offers after `config`: the kinds of option, then every key.
    /// One option as `config KEY` shows it: its value, what it is, and what it accepts.
    static func optionLines(_ setting: Setting, _ session: Session) -> [String] {
        ["\(setting.key) = \(setting.get(session))   \(setting.scope.rawValue) option: \(setting.summary)",
         "  accepts \(accepted(setting, session)); 'set \(setting.key) VALUE' changes it"]
    }

    static let all: [Command] = [
        Command("set", syntax: "key=value | key value",
                summary: "change one option (loss, training or display): 'set beta=0' or 'set beta 0'; invalid values change nothing",
                example: "set loss_type=dapo", completion: .options) { session, args throws(CommandError) in
            if args.isEmpty { return configLines(session) }
            // 'set beta': a known key without a value says what it accepts and what it is now.
            if args.count == 1, !args[0].contains("="), let setting = session.setting(named: args[0]) {
                throw CommandError("set \(setting.key) needs a value: \(setting.accepted) (now \(setting.get(session)))")
            }
            let (key, value) = args.count == 1 && !args[0].contains("=") ? (args[0], "") : try keyValue(listJoined(args))
            guard let setting = session.setting(named: key) else { throw unknownOption(key, session) }
            let warned = session.config.trlWarnings
            let changed = try change(setting, to: value, in: session)
            return [changed] + (setting.notes?(session) ?? []) + (session.library == .trl ? trlNotes(session.config, besides: warned) : [])
        },
        Command("preset", syntax: "NAME", summary: "load a known set-up's loss options (max_completion_length stays): " + Preset.allCases.map(\.rawValue).joined(separator: ", "),
                example: "preset dapo", completion: .presets) { session, args throws(CommandError) in
            guard args.count <= 1 else {
                throw CommandError("preset takes one name: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")), not '\(Interpreter.shorten(args.joined(separator: " ")))'")
            }
            guard args.count == 1 else {
                return ["presets (each starts from the defaults and changes only what it names):"]
                    + Preset.allCases.map { "  \($0.rawValue.padding(toLength: 13)) \($0.summary)" }
            }
            guard let preset = Preset(rawValue: args[0]) else {
                throw CommandError("unknown preset '\(args[0])'; presets are \(Preset.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let before = session.config.settings
            // max_completion_length stays: it is also how long the tiny policy's answers can be.
            session.config = preset.config
            let changes = changeLines(before, session.config.settings)
            return ["preset \(preset.rawValue): \(preset.summary)"] + (changes.isEmpty ? ["  (no option changed)"] : changes)
                + trlNotes(session.config) + session.backToTRL(because: "a preset sets TRL's options")
        },
        Command("config", aliases: ["show"], syntax: "[KEY|KIND]",
                summary: "every option with its value and what it accepts; or one option (KEY), or one kind: loss, training, display",
                example: "config beta", completion: .optionNames) { session, args throws(CommandError) in
            guard args.count <= 1 else {
                throw CommandError("config (or show) takes at most one option name or kind (loss, training, display), e.g. 'config beta'")
            }
            guard let name = args.first, name != "config" else { return configLines(session) }
            if let scope = Setting.Scope(rawValue: name) { return configLines(session, scopes: [scope]) }
            guard let setting = session.setting(named: name) else { throw unknownOption(name, session) }
            return optionLines(setting, session)
        },
    ]
}
