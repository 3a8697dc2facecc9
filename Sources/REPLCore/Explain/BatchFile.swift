import GRPO

/// The batch file format that `explain` reads and writes, and what a practitioner dumps from
/// their own trainer:
///
///     {"config": {"loss_type": "grpo", "epsilon": 0.2, "beta": 0.04},
///      "groups": [{"rewards": [1.0, 0.0],
///                  "completions": [{"logp": [...], "old_logp": [...], "ref_logp": [...], "entropy": [...]},
///                                  {"logp": [...]}]}]}
///
/// Every config key is optional (`GRPOConfig.options` names them); `old_logp` defaults to
/// `logp` (on-policy); `ref_logp` may be left out only when beta is 0; `entropy` is needed only
/// for `top_entropy_quantile` < 1; `sampler_logp` turns on the sampler correction (lesson 09).
/// A group may give `advantages` instead of `rewards` (a minibatch dumped from a trainer, whose
/// advantages were computed over a larger batch: `Completion.advantage`); then every group must.
/// Or `rewards_per_func`, one list per completion with a reward per function (TRL's
/// `rewards_per_func` rows); a null reward is one a function could not give (TRL's NaN), in
/// `rewards` too. A completion may say `"truncated": true` (it hit the length limit) and carry a
/// `"mask"` of 0/1 per token (TRL's `tool_mask`: 0 for tool output the loss does not train on).
/// An optional top-level `logged` holds what a library logged for the batch (`LoggedNumbers`).
///
/// In place of `"config"`, a file may hold `"verl"`: verl 0.9.1's options under verl's leaf
/// names (`VerlOptions.keys`), verl's defaults for the rest. The loss is then what verl's actor
/// backpropagates for the batch as one mini-batch on one GPU (`VerlOptions.lossInputs`: the
/// advantages of `adv_estimator` unless the groups give them), and `logged` takes verl's names.
public enum BatchFile {
    /// What a batch file holds.
    public struct Contents: Sendable {
        public var config: GRPOConfig
        public var batch: Batch
        public var logged: LoggedNumbers?
        /// The file's `"verl"` options; nil for a TRL-style file.
        public var verl: VerlOptions? = nil
        /// Where the advantages came from when the loss computed them outside the batch (verl's estimator).
        public var advantageSource: String? = nil
        /// A verl file's batch as the file gives it (its response masks before verl's rejection
        /// sampling), what verl's metrics read; `batch` is then what the loss reads.
        public var responseBatch: Batch? = nil
        /// A verl file's loss inputs with the advantages of the vectorized estimator
        /// (`VerlAdvantages.vectorizedAdvantages`): what the vectorized path reads, `batch` the naive one's.
        public var vectorizedBatch: Batch? = nil

        /// For a verl file: the batch with verl's advantages and the loss options that compute
        /// verl's loss (after any `--set` changed `verl`). Nothing to do for a TRL-style file.
        public mutating func resolveVerl(name: String) throws(InputError) {
            guard let verl else { return }
            if !batch.hasGivenAdvantages {
                advantageSource = "A_i by verl's \(verl.advEstimator) estimator, the file's groups as verl's uids"
                    + (verl.advEstimator == "grpo" ? " (grpo is the default here; verl's own, gae, needs a critic)" : "")
            }
            responseBatch = batch
            do {
                vectorizedBatch = try verl.lossInputs(batch, path: .vectorized).batch
                (batch, config) = try verl.lossInputs(batch, path: .naive)
            } catch { throw InputError("\(name): verl: \(error.message)") }
        }

        /// Our numbers under the file's library's names.
        public func ours(_ b: Breakdown) -> OurNumbers {
            verl.map { OurNumbers.verl(b, batch: responseBatch ?? batch, options: $0) } ?? OurNumbers.trl(b)
        }
    }

    static let completionKeys = ["logp", "old_logp", "ref_logp", "entropy", "sampler_logp", "truncated", "mask"]
    static let groupKeys = ["rewards", "advantages", "rewards_per_func", "completions"]

    /// Decodes `json` into the config (the file's keys applied over `base`), the batch and the
    /// logged numbers. The caller validates the batch (`Batch.validate(for:)`) once the config is
    /// final (for a verl file, after `Contents.resolveVerl`). Messages start with `name` and the
    /// field's path.
    public static func decode(_ json: JSONValue, name: String, base: GRPOConfig) throws(InputError) -> Contents {
        guard case .object(let top) = json else { throw InputError("\(name): expected an object with \"groups\", found \(json.kind)") }
        for key in top.keys where !["config", "verl", "groups", "logged"].contains(key) {
            throw InputError("\(name): unknown key \"\(key)\" at the top level; expected \"config\" (or \"verl\"), \"groups\" and \"logged\"")
        }
        if top["config"] != nil && top["verl"] != nil {
            throw InputError("\(name): give \"config\" (TRL's option names) or \"verl\" (verl's), not both")
        }
        let verl = try top["verl"].map { value throws(InputError) in try verlOptions(value, at: "\(name): verl") }
        var config = base
        if let configValue = top["config"] {
            guard case .object(let object) = configValue else { throw InputError("\(name): config: expected an object, found \(configValue.kind)") }
            for (key, value) in object.pairs {
                if let hint = ExplainCommand.unknownOptionHint(key) {
                    throw InputError("\(name): config: unknown option \"\(key)\"; \(hint)")
                }
                guard GRPOConfig.option(named: key) != nil else {
                    throw InputError("\(name): config: unknown option \"\(key)\"; options are \(GRPOConfig.options.map(\.key).joined(separator: ", "))")
                }
                do { try config.set(key, to: text(of: value, listOption: GRPOConfig.option(named: key)?.kind == .numberList)) } catch {
                    throw InputError("\(name): config: \(error.message)")
                }
            }
        }
        guard let groupsValue = top["groups"] else { throw InputError("\(name): missing \"groups\" (a list of groups)") }
        guard case .array(let groupValues) = groupsValue else { throw InputError("\(name): groups: expected a list, found \(groupsValue.kind)") }
        var groups: [Group] = []
        for (g, value) in groupValues.enumerated() {
            groups.append(try group(value, at: "\(name): groups[\(g)]"))
        }
        let names = verl == nil ? LoggedNumbers.known.map(\.name) : OurNumbers.verlNames
        let logged = try top["logged"].map { value throws(InputError) in try LoggedNumbers.decode(value, at: "\(name): logged", names: names) }
        return Contents(config: config, batch: Batch(groups: onePerFunctionRow(groups)), logged: logged, verl: verl)
    }

    /// A `"verl"` object: each key one of `VerlOptions.keys`, over verl's defaults.
    static func verlOptions(_ value: JSONValue, at path: String) throws(InputError) -> VerlOptions {
        guard case .object(let object) = value else { throw InputError("\(path): expected an object, found \(value.kind)") }
        var options = VerlOptions()
        for (key, item) in object.pairs {
            do { try options.set(key, to: text(of: item, listOption: key == "gdpo_reward_weights")) } catch {
                throw InputError("\(path): \(error.message)")
            }
        }
        return options
    }

    /// A config value as the text `GRPOConfig.set` reads: null means "none"; a list of numbers is
    /// "1,0.5" for an option that takes a list (`reward_weights`) and refused by name otherwise.
    static func text(of value: JSONValue, listOption: Bool = false) -> String {
        switch value {
        case .null: "none"
        case .bool(let b): b ? "true" : "false"
        case .number(let x): JSONValue.format(x)
        case .string(let s): s
        case .array(let items):
            // A list of numbers (reward_weights) as "1,0.5"; anything else is refused by name.
            listOption && items.allSatisfy { if case .number = $0 { true } else { false } }
                ? items.map { if case .number(let x) = $0 { JSONValue.format(x) } else { "" } }.joined(separator: ",")
                : "a list of \(items.first?.kind ?? "nothing")"
        case .object: value.kind
        }
    }

    private static func group(_ value: JSONValue, at path: String) throws(InputError) -> Group {
        guard case .object(let object) = value else { throw InputError("\(path): expected an object, found \(value.kind)") }
        for key in object.keys where !groupKeys.contains(key) {
            throw InputError("\(path): unknown key \"\(key)\"; a group has \"rewards\" (or \"advantages\" or \"rewards_per_func\") and \"completions\"")
        }
        // Rewards (one function, or several), or advantages already computed by a trainer.
        let given = ["rewards", "advantages", "rewards_per_func"].filter { object[$0] != nil }
        guard given.count == 1, let key = given.first, let perCompletionValue = object[key] else {
            if given.isEmpty { throw InputError("\(path): missing \"rewards\" (or \"advantages\", or \"rewards_per_func\")") }
            throw InputError("\(path): give one of \"rewards\", \"advantages\" and \"rewards_per_func\", not \(given.joined(separator: " and "))")
        }
        guard let completionsValue = object["completions"] else { throw InputError("\(path): missing \"completions\"") }
        guard case .array(let items) = completionsValue else {
            throw InputError("\(path).completions: expected a list, found \(completionsValue.kind)")
        }
        let perCompletion: [[Double?]]
        switch key {
        case "rewards_per_func": perCompletion = try rewardRows(perCompletionValue, at: "\(path).rewards_per_func")
        case "rewards": perCompletion = try optionalNumbers(perCompletionValue, at: "\(path).rewards").map { [$0] }
        default: perCompletion = try numbers(perCompletionValue, at: "\(path).\(key)").map { [$0] }
        }
        guard items.count == perCompletion.count else {
            throw InputError("\(path): \(perCompletion.count) \(key) but \(items.count) completions; give one per completion")
        }
        let unscorable = key == "rewards" && perCompletion.contains { $0[0] == nil }
        var completions: [Completion] = []
        for (i, item) in items.enumerated() {
            var c = try completion(item, reward: key == "rewards" ? perCompletion[i][0] ?? 0 : 0, at: "\(path).completions[\(i)]")
            switch key {
            case "advantages": c.advantage = perCompletion[i][0]
            case "rewards_per_func": c.rewardsPerFunction = perCompletion[i]
            default: if unscorable { c.rewardsPerFunction = perCompletion[i] }  // a null reward: one function's row
            }
            completions.append(c)
        }
        return Group(completions: completions)
    }

    /// A null in some group's `rewards` makes that group's rewards one-function rows (so an
    /// unscorable completion can be said): then every group's plain rewards become such rows too,
    /// as all completions must give their rewards the same way.
    private static func onePerFunctionRow(_ groups: [Group]) -> [Group] {
        let completions = groups.flatMap(\.completions)
        guard completions.contains(where: { $0.rewardsPerFunction != nil }),
              completions.contains(where: { $0.rewardsPerFunction == nil && $0.advantage == nil }) else { return groups }
        return groups.map { group in
            var group = group
            for i in group.completions.indices where group.completions[i].rewardsPerFunction == nil && group.completions[i].advantage == nil {
                group.completions[i].rewardsPerFunction = [group.completions[i].reward]
            }
            return group
        }
    }

    /// `rewards_per_func`: one list per completion, one number (or null) per reward function.
    private static func rewardRows(_ value: JSONValue, at path: String) throws(InputError) -> [[Double?]] {
        guard case .array(let rows) = value else { throw InputError("\(path): expected a list of lists, found \(value.kind)") }
        var out: [[Double?]] = []
        for (i, row) in rows.enumerated() {
            let values = try optionalNumbers(row, at: "\(path)[\(i)]")
            guard values.count == (out.first?.count ?? values.count) else {
                throw InputError("\(path)[\(i)]: \(values.count) rewards, but \(path)[0] has \(out[0].count); give one per reward function")
            }
            out.append(values)
        }
        return out
    }

    /// A list of numbers, where null stands for a reward no function could give.
    private static func optionalNumbers(_ value: JSONValue, at path: String) throws(InputError) -> [Double?] {
        guard case .array(let items) = value else { throw InputError("\(path): expected a list of numbers, found \(value.kind)") }
        var out: [Double?] = []
        for (k, item) in items.enumerated() {
            switch item {
            case .number(let x): out.append(x)
            case .null: out.append(nil)
            default: throw InputError("\(path)[\(k)]: expected a number or null, found \(item.kind)")
            }
        }
        return out
    }

    private static func completion(_ value: JSONValue, reward: Double, at path: String) throws(InputError) -> Completion {
        guard case .object(let object) = value else { throw InputError("\(path): expected an object, found \(value.kind)") }
        for key in object.keys where !completionKeys.contains(key) {
            throw InputError("\(path): unknown key \"\(key)\"; a completion has \(completionKeys.joined(separator: ", "))")
        }
        guard let logpValue = object["logp"] else { throw InputError("\(path): missing \"logp\"") }
        let logp = try logProbabilities(logpValue, at: "\(path).logp")
        func optional(_ key: String) throws(InputError) -> [Double]? {
            guard let v = object[key] else { return nil }
            let values = key == "entropy" ? try entropies(v, at: "\(path).\(key)") : try logProbabilities(v, at: "\(path).\(key)")
            guard values.count == logp.count else {
                throw InputError("\(path).\(key): \(values.count) values, but logp has \(logp.count); give one per token")
            }
            return values
        }
        var c = Completion(reward: reward, logp: logp, oldLogp: try optional("old_logp"), refLogp: try optional("ref_logp"),
                           entropy: try optional("entropy"), samplerLogp: try optional("sampler_logp"))
        if let flag = object["truncated"] {
            guard case .bool(let b) = flag else { throw InputError("\(path).truncated: expected true or false, found \(flag.kind)") }
            c.truncated = b
        }
        if let maskValue = object["mask"] { c.mask = try tokenMask(maskValue, length: logp.count, at: "\(path).mask") }
        return c
    }

    /// A per-token loss mask: 1 (or true) where the loss trains on the token, 0 (or false) where not.
    private static func tokenMask(_ value: JSONValue, length: Int, at path: String) throws(InputError) -> [Bool] {
        guard case .array(let items) = value else { throw InputError("\(path): expected a list of 0 and 1, found \(value.kind)") }
        var out: [Bool] = []
        for (k, item) in items.enumerated() {
            switch item {
            case .number(let x) where x == 0 || x == 1: out.append(x == 1)
            case .bool(let b): out.append(b)
            case .number(let x): throw InputError("\(path)[\(k)]: \(JSONValue.format(x)) is neither 0 nor 1")
            default: throw InputError("\(path)[\(k)]: expected 0 or 1, found \(item.kind)")
            }
        }
        guard out.count == length else { throw InputError("\(path): \(out.count) values, but logp has \(length); give one per token") }
        return out
    }

    private static func numbers(_ value: JSONValue, at path: String) throws(InputError) -> [Double] {
        guard case .array(let items) = value else { throw InputError("\(path): expected a list of numbers, found \(value.kind)") }
        var out: [Double] = []
        out.reserveCapacity(items.count)
        for (k, item) in items.enumerated() {
            guard case .number(let x) = item else { throw InputError("\(path)[\(k)]: expected a number, found \(item.kind)") }
            out.append(x)
        }
        return out
    }

    /// Log-probabilities are <= 0 (a probability is at most 1).
    private static func logProbabilities(_ value: JSONValue, at path: String) throws(InputError) -> [Double] {
        let values = try numbers(value, at: path)
        if let k = values.firstIndex(where: { $0 > 0 }) {
            throw InputError("\(path)[\(k)]: \(JSONValue.format(values[k])) is above 0, and a log-probability is <= 0")
        }
        return values
    }

    /// Entropies are >= 0.
    private static func entropies(_ value: JSONValue, at path: String) throws(InputError) -> [Double] {
        let values = try numbers(value, at: path)
        if let k = values.firstIndex(where: { $0 < 0 }) {
            throw InputError("\(path)[\(k)]: \(JSONValue.format(values[k])) is below 0, and an entropy is >= 0")
        }
        return values
    }

    /// The batch (and config) as a batch file, so a batch from the tiny policy can be saved and
    /// explained again or compared with another library.
    public static func encode(_ batch: Batch, config: GRPOConfig) -> JSONValue {
        encode(batch, options: ("config", configJSON(config)))
    }

    /// The batch with verl's options under `"verl"` (a session under `library verl`).
    public static func encode(_ batch: Batch, verl: VerlOptions) -> JSONValue {
        encode(batch, options: ("verl", verlJSON(verl)))
    }

    static func encode(_ batch: Batch, options: (String, JSONValue)) -> JSONValue {
        let groups: [JSONValue] = batch.groups.map { group in
            let completions: [JSONValue] = group.completions.map { c in
                var o = JSONObject()
                o["logp"] = .array(c.logp.map(JSONValue.number))
                o["old_logp"] = .array(c.oldLogp.map(JSONValue.number))
                if let v = c.refLogp { o["ref_logp"] = .array(v.map(JSONValue.number)) }
                if let v = c.entropy { o["entropy"] = .array(v.map(JSONValue.number)) }
                if let v = c.samplerLogp { o["sampler_logp"] = .array(v.map(JSONValue.number)) }
                if c.truncated { o["truncated"] = .bool(true) }
                if let mask = c.mask { o["mask"] = .array(mask.map { .number($0 ? 1 : 0) }) }
                return .object(o)
            }
            let given = group.completions.compactMap(\.advantage)
            let perFunction = group.completions.compactMap(\.rewardsPerFunction)
            let perCompletion: (String, JSONValue)
            if given.count == group.completions.count && !given.isEmpty {
                perCompletion = ("advantages", .array(given.map(JSONValue.number)))
            } else if perFunction.count == group.completions.count && !perFunction.isEmpty {
                perCompletion = ("rewards_per_func", .array(perFunction.map { .array($0.map { $0.map(JSONValue.number) ?? .null }) }))
            } else {
                perCompletion = ("rewards", .array(group.rewards.map(JSONValue.number)))
            }
            return .object(JSONObject([perCompletion, ("completions", .array(completions))]))
        }
        return .object(JSONObject([options, ("groups", .array(groups))]))
    }

    /// verl options as JSON, every key: numbers, booleans, null, the rest strings (and a list for
    /// `gdpo_reward_weights`).
    public static func verlJSON(_ options: VerlOptions) -> JSONValue {
        .object(JSONObject(options.settings.map { key, value in
            if value == "none" { return (key, .null) }
            if value == "true" || value == "false" { return (key, .bool(value == "true")) }
            if key == "gdpo_reward_weights" { return (key, .array(value.split(separator: ",").compactMap { Double(String($0)).map(JSONValue.number) })) }
            if let x = Double(decimalText: value) { return (key, .number(x)) }
            return (key, .string(value))
        }))
    }

    /// The resolved config as JSON, each value with its type: numbers, booleans, strings, and
    /// null for an optional number that is off ("none").
    public static func configJSON(_ config: GRPOConfig) -> JSONValue {
        .object(JSONObject(GRPOConfig.options.map { option in
            let value = option.get(config)
            switch option.kind {
            case .number, .integer: return (option.key, Double(value).map(JSONValue.number) ?? .string(value))
            case .optionalNumber: return (option.key, value == "none" ? .null : Double(value).map(JSONValue.number) ?? .string(value))
            case .numberList:
                let items = value.split(separator: ",").map { Double(String($0)).map(JSONValue.number) ?? .string(String($0)) }
                return (option.key, value == "none" ? .null : .array(items))
            case .flag: return (option.key, .bool(value == "true"))
            case .choice: return (option.key, .string(value))
            }
        }))
    }
}
