import GRPO

/// Options: `set`, `preset`, `config`.
enum ConfigCommands {
    /// Splits "key=value" or ["key", "value"] into a pair.
    static func keyValue(_ args: [String]) throws(CommandError) -> (String, String) {
        if args.count == 1, let eq = args[0].firstIndex(of: "="), eq != args[0].startIndex {
            return (String(args[0][..<eq]), String(args[0][args[0].index(after: eq)...]))
        }
        if args.count == 2 { return (args[0], args[1]) }
        if args.count == 3, args[1] == "=" { return (args[0], args[2]) }
        throw CommandError("set takes key=value or key value (e.g. 'set beta=0'); 'config' lists the keys")
    }

    static func configLines(_ session: Session) -> [String] {
        var lines: [String] = []
        for scope in [Setting.Scope.loss, .training, .display] {
            let entries = session.settings.filter { $0.scope == scope }
            if entries.isEmpty { continue }
            var table = Table(title: "\(scope.rawValue) options", columns: [.text("key"), .text("value"), .text("accepts")])
            for s in entries {
                var accepted = s.accepted
                // After 'explain', the batch file's length (e.g. 512) is shown, outside the tiny policy's range.
                let own = session.trainer.settings.maxCompletionLength
                if s.key == "max_completion_length", session.config.maxCompletionLength != own {
                    accepted += "; this value is the batch file's: rollout, step and train use the tiny policy's \(own)"
                }
                table.add([s.key, s.get(session), accepted])
            }
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
        "eps": "the clip width is 'epsilon' (and 'epsilon_high')",
        "clip_ratio": "verl's clip_ratio is 'epsilon'",
        "clip_ratio_low": "verl's clip_ratio_low is 'epsilon'",
        "clip_ratio_high": "verl's clip_ratio_high is 'epsilon_high'",
        "clip_ratio_c": "verl's dual-clip clip_ratio_c is 'delta'",
        "kl_coef": "the KL weight is 'beta'",
        "loss_agg_mode": "verl's loss_agg_mode is 'loss_type' (lesson 11 maps the names)",
        "rho": "rho (the share of forking tokens kept) is 'top_entropy_quantile'",
    ]

    static let all: [Command] = [
        Command("set", syntax: "key=value", summary: "change one option (loss, training or display); invalid values change nothing",
                example: "set loss_type=dapo", completion: .options) { session, args throws(CommandError) in
            if args.isEmpty { return configLines(session) }
            // 'set beta': a known key without a value says what it accepts and what it is now.
            if args.count == 1, !args[0].contains("="), let setting = session.setting(named: args[0]) {
                throw CommandError("set \(setting.key) needs a value: \(setting.accepted) (now \(setting.get(session)))")
            }
            let (key, value) = args.count == 1 && !args[0].contains("=") ? (args[0], "") : try keyValue(args)
            guard let setting = session.setting(named: key) else {
                let suggestion = otherNames[key].map { "; \($0)" }
                    ?? Fmt.closest(key, in: session.settings.map(\.key)).map { "; did you mean '\($0)'?" } ?? ""
                throw CommandError("unknown option '\(key)'\(suggestion) ('config' lists every option)")
            }
            let before = setting.get(session)
            try setting.set(session, value)
            let after = setting.get(session)
            return [before == after ? "\(key) = \(after) (unchanged)" : "\(key): \(before) -> \(after)"]
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
            var config = preset.config
            config.maxCompletionLength = session.config.maxCompletionLength
            session.config = config
            session.trainer.lossConfig = config
            let changes = zip(before, session.config.settings).filter { $0.value != $1.value }
                .map { "  \($0.key): \($0.value) -> \($1.value)" }
            return ["preset \(preset.rawValue): \(preset.summary)"] + (changes.isEmpty ? ["  (no option changed)"] : changes)
        },
        Command("config", aliases: ["show"], summary: "every option with its value and what it accepts") { session, args throws(CommandError) in
            if let extra = args.first, extra != "config" { throw CommandError("config takes no argument, got '\(extra)'") }
            return configLines(session)
        },
    ]
}
