/// `source TERM`: the naive path's Swift code for one term, read from the repository, so the
/// code sits next to the numbers it produced.
enum SourceCommand {
    /// Term name -> (file under Sources/GRPO/Naive, function name).
    static let terms: [(term: String, file: String, function: String)] = [
        ("advantages", "Advantage.swift", "advantages"),
        ("std", "Advantage.swift", "std"),
        ("reward_functions", "RewardFunctions.swift", "weightedReward"),
        ("gdpo", "RewardFunctions.swift", "normalizeThenSumAdvantages"),
        ("ratio", "ImportanceRatio.swift", "tokenRatio"),
        ("sequence_ratio", "ImportanceRatio.swift", "sequenceRatio"),
        ("objective", "Objectives/PolicyObjective.swift", "policyObjective"),
        ("clip", "Objectives/ClipMin.swift", "clippedSurrogate"),
        ("cispo", "Objectives/CISPO.swift", "cispoObjective"),
        ("sapo", "Objectives/SAPO.swift", "sapoGate"),
        ("vespo", "Objectives/VESPO.swift", "vespoWeight"),
        ("kl", "Regularizers/KL.swift", "klPenalty"),
        ("entropy_bonus", "Regularizers/EntropyBonus.swift", "entropyBonus"),
        ("weight", "Aggregation.swift", "tokenWeight"),
        ("aggregate", "Aggregation.swift", "aggregate"),
        ("luspo", "Aggregation.swift", "aggregate"),
        ("loss_mask", "Masks/LossMask.swift", "lossMask"),
        ("off_policy_mask", "Masks/OffPolicyMask.swift", "offPolicyKeep"),
        ("entropy_mask", "Masks/EntropyMask.swift", "entropyThreshold"),
        ("sampler_weight", "SamplerCorrection.swift", "samplerWeights"),
        ("loss", "NaiveLoss.swift", "breakdown"),
        ("min", "Scalar.swift", "minimum"),
        ("clamp", "Scalar.swift", "clamp"),
        ("sigmoid", "Scalar.swift", "sigmoid"),
        ("detached", "Scalar.swift", "detached"),
        ("backward", "Scalar.swift", "backward"),
    ]

    /// The function `name` in `text` with its doc comment: from the first `///` line above it to
    /// the brace that closes its body.
    static func extract(function name: String, from text: String) -> [String]? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.contains("func \(name)(") || $0.contains("func \(name)<") }) else { return nil }
        var first = start
        while first > 0, lines[first - 1].trimmingWhitespace.hasPrefix("///") { first -= 1 }
        var depth = 0
        var opened = false
        for k in start..<lines.count {
            for ch in lines[k] {
                if ch == "{" { depth += 1; opened = true }
                if ch == "}" { depth -= 1 }
            }
            if opened && depth == 0 { return Array(lines[first...k]) }
        }
        return nil
    }

    static let all: [Command] = [
        Command("source", syntax: "TERM", summary: "print the naive path's Swift code for a term: " + terms.map(\.term).joined(separator: ", "),
                example: "source clip", completion: .terms) { session, args throws(CommandError) in
            let names = terms.map(\.term)
            guard args.count == 1, let entry = terms.first(where: { $0.term == args[0] }) else {
                // Name what was typed, and the closest term when there is one ('source clp').
                if args.count == 1 {
                    let typed = Interpreter.shorten(args[0])
                    if let close = Fmt.closest(args[0], in: names) {
                        throw CommandError("no term '\(typed)'; did you mean '\(close)'? ('help source' lists the terms)")
                    }
                    throw CommandError("no term '\(typed)'; source takes one of \(names.joined(separator: ", "))")
                }
                let got = args.isEmpty ? "" : ", not '\(Interpreter.shorten(args.joined(separator: " ")))'"
                throw CommandError("source takes one term\(got): \(names.joined(separator: ", "))")
            }
            let path = "Sources/GRPO/Naive/\(entry.file)"
            guard let text = ProjectFiles.text(path, root: session.projectRoot) else {
                throw CommandError("cannot read \(session.projectRoot)/\(path); run grpo-repl from its clone or set GRPO_SWIFT_ROOT")
            }
            guard let code = extract(function: entry.function, from: text) else {
                throw CommandError("\(path) has no function \(entry.function)")
            }
            return ["// \(path): \(entry.function)"] + code
        },
    ]
}
