#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO

/// The policy objectives side by side: the current one's per-token term, what each does to one
/// token's gradient in the four cases of sign(A) x side of the clip range, and each one's weight
/// as a chart against the ratio. Lesson 05.
enum ObjectiveCommands {
    /// g(r): one token's gradient under an objective is d loss / d logp = -A g(r) before the
    /// aggregation's weight, so g is the share of REINFORCE's -A the token keeps (1 on-policy, 0
    /// where a clip stops it). Computed by the naive path on a one-token batch with the given
    /// advantage and old_logp set so that the ratio is r (one token: VESPO's w is r too), every
    /// mask and the KL off.
    static func gradientWeight(ratio r: Double, advantage a: Double, config: GRPOConfig) -> Double? {
        var c = config
        c.beta = 0
        c.topEntropyQuantile = 1
        c.offPolicyMaskThreshold = nil
        c.entropyCoef = 0
        c.useAdaptiveEntropy = false
        c.importanceSamplingLevel = .token
        let logp = -1.0
        let completion = Completion(reward: 0, logp: [logp], oldLogp: [logp - log(r)], advantage: a)
        guard a != 0, let b = try? Naive.breakdown(Batch(groups: [Group(completions: [completion])]), config: c) else { return nil }
        return -b.gradLogp[0, 0] / (b.weight[0] * a)
    }

    /// The loss type standing for each objective: the session's own when it has that objective.
    static func lossType(for objective: GRPOConfig.PolicyObjective, session: GRPOConfig) -> GRPOConfig.LossType {
        if session.objective == objective { return session.lossType }
        return GRPOConfig.LossType.allCases.first { $0.objective == objective } ?? session.lossType
    }

    static func config(_ objective: GRPOConfig.PolicyObjective, _ session: GRPOConfig) -> GRPOConfig {
        var c = session
        c.lossType = lossType(for: objective, session: session)
        return c
    }

    static func objectives(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        var ratios = [0.5, 1, 1.5]
        if !args.isEmpty {
            ratios = []
            for word in args {
                guard let r = Double(decimalText: word), r > 0, r <= 1e6 else {
                    throw CommandError("objectives takes ratios, numbers in (0, 1e6], not '\(Interpreter.shorten(word))'")
                }
                ratios.append(r)
            }
        }
        let c = session.config
        let objectives = GRPOConfig.PolicyObjective.allCases
        var table = Table(title: "g(r): one token's d loss / d logp = -A g(r) (1 = REINFORCE's whole gradient, 0 = none)",
                          columns: [.text("A"), .number("r"), .text("r is")] + objectives.map { .number($0.rawValue) })
        let low = 1 - c.epsilon, high = 1 + c.resolvedEpsilonHigh
        for (k, a) in [1.0, -1.0].enumerated() {
            if k > 0 { table.addGroupBreak() }
            for r in ratios {
                let side = r > high ? "above" : r < low ? "below" : "inside"
                table.add([a > 0 ? "> 0" : "< 0", Fmt.num(r), side]
                          + objectives.map { Fmt.num(gradientWeight(ratio: r, advantage: a, config: config($0, c))) })
            }
        }
        var notes = [
            "'r is' the clip range [\(BreakdownView.clipRange(c))] of clip_min; cispo caps r at epsilon_high = "
                + "\(c.resolvedEpsilonHigh.optionText)\(c.epsilonHigh == nil ? " (unset: epsilon)" : ""); sapo's temperatures are "
                + "\(c.sapoTemperaturePos.optionText) (A > 0) and \(c.sapoTemperatureNeg.optionText); vespo's w is r here (a one-token completion)",
            "clip_min drops the gradient where r is past the range on the side A pushes; the others keep some of it",
        ]
        if let note = lowCapNote(c) { notes.append(note) }
        return table.render() + notes
    }

    /// CISPO's cap under 1 (epsilon_high unset falls back to epsilon, 0.2) scales every token down,
    /// on-policy too: the trap of lesson 05.
    static func lowCapNote(_ c: GRPOConfig) -> String? {
        guard c.resolvedEpsilonHigh < 1 else { return nil }
        return "cispo's cap \(c.resolvedEpsilonHigh.optionText) is below 1: every token keeps at most that share, on-policy too "
            + "(TRL recommends 'set epsilon_high 5' for cispo)"
    }

    static func gate(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        let names = GRPOConfig.PolicyObjective.allCases.map(\.rawValue)
        guard args.count <= 1 else {
            throw CommandError("gate takes one objective, one of \(names.joined(separator: ", ")), not '\(Interpreter.shorten(args.joined(separator: " ")))'")
        }
        let name = args.first ?? session.config.objective.rawValue
        guard let objective = GRPOConfig.PolicyObjective(rawValue: name) else {
            throw CommandError("no objective '\(Interpreter.shorten(name))'; gate takes one of \(names.joined(separator: ", "))")
        }
        let c = config(objective, session.config)
        let ratios = (1...120).map { 0.025 * Double($0) }  // r from 0.025 to 3
        let series = [("A > 0", 1.0), ("A < 0", -1.0)].map { label, a in
            (name: label, values: ratios.map { gradientWeight(ratio: $0, advantage: a, config: c) ?? .nan })
        }
        let width = max(20, min(60, session.lineWidth - 12))
        var lines = Chart.render(title: "\(objective.rawValue): g(r), the share of -A's gradient one token keeps, against r",
                                 series: series, width: width, height: 10, unicode: session.unicode,
                                 xEnds: ("r = 0.025", "3"))
        // Where both signs give the same g, the second series is drawn over the first.
        if series[0].values == series[1].values {
            lines.append("A > 0 and A < 0 give the same g here: one line")
        }
        if objective == .cispo, let note = lowCapNote(c) { lines.append(note) }
        if objective == .cispo && c.resolvedEpsilonHigh > 3 {
            lines.append("cispo's cap \(c.resolvedEpsilonHigh.optionText) lies past r = 3: here g = r ('objectives' takes larger ratios)")
        }
        if objective == .vespo {
            lines.append("vespo's w is the whole completion's ratio; here a one-token completion, so w = r")
        }
        return lines
    }

    static let all: [Command] = [
        Command("objective", syntax: "[all]", summary: "the loss type's per-token policy term and its gradient, for the current batch",
                term: "clip-and-min, cispo, sapo or vespo, whichever loss_type uses") { session, args throws(CommandError) in
            try Args.onlyAll(args, "objective")
            let c = session.config
            let b = try session.breakdown()
            // The objective's own columns, with the factors the formula line names (the entropy
            // mask, the sampler weight) when they are on, and the gradient for every objective
            // (clip_min's own columns stop at the branch of the min).
            var columns = BreakdownView.objectiveColumns(c.objective).filter { $0 != .grad }
            columns.insert(.entropyMask, at: (columns.firstIndex(of: .offPolicyMask) ?? columns.endIndex - 1) + 1)
            columns.insert(.samplerWeight, at: columns.firstIndex(of: .perTokenLoss) ?? columns.endIndex)
            columns.append(.grad)
            var lines = try TermCommands.tokens(session, args, command: "objective",
                                                title: BreakdownView.lossFormula(c, samplerWeighted: b.samplerWeight != nil),
                                                columns: columns)
            lines.append("loss_type \(c.lossType.rawValue): \(c.lossType.summary)")
            if c.objective.foldsSamplerWeight && b.samplerWeight != nil {
                lines.append("w_i is the product of the completion's ratios and of its IS weights (TRL folds the sampler correction "
                             + "into vespo's w and does not multiply L_t by it)")
            }
            return lines
        },
        Command("objectives", syntax: "[R ...]",
                summary: "what each objective does to one token's gradient, A > 0 and A < 0, at ratios 0.5, 1, 1.5 (or R ...), "
                    + "with the session's options",
                example: "objectives 0.5 1.5 3") { session, args throws(CommandError) in
            try objectives(session, args)
        },
        Command("gate", syntax: "[OBJECTIVE]",
                summary: "chart of g(r), the share of a token's gradient an objective keeps, against r, for A > 0 and A < 0 "
                    + "(default: the loss_type's objective)",
                example: "gate sapo", completion: .words(GRPOConfig.PolicyObjective.allCases.map(\.rawValue))) { session, args throws(CommandError) in
            try gate(session, args)
        },
    ]
}
