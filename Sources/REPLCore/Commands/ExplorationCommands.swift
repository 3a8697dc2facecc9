#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO

/// Small commands that lessons 01-06 use to show one effect (added with those lessons):
///
/// - `surrogate` (lesson 01): the log-prob surrogate -sum w logp A next to the ratio form the loss
///   computes; their values differ, their gradients agree when every ratio is 1.
/// - `deadgroups P [G...]` (lesson 02): the chance that a group of G binary rewards is all equal.
/// - `klexact [P Q [OLD]]` (lesson 06): exact expectations of k1, k2, k3 and of their gradients
///   over a small categorical distribution, against the two KL divergences.
enum ExplorationCommands {
    // MARK: surrogate

    static func surrogate(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        try Args.onlyAll(args, "surrogate")
        let all = Args.wantsAll(args)
        let batch = try session.shownBatch()
        let b = try session.breakdown()
        var table = Table(title: "log-prob surrogate: loss_lp = -sum_t w_t logp_t A_i   (its gradient: -w_t A_i)",
                          columns: [.number("g"), .number("i"), .number("t"), .number("logp"), .number("A"),
                                    .number("logp*A"), .number("ratio"), .number("ratio*A"), .number("w_t"),
                                    .number("dloss_lp/dlogp"), .number("dloss/dlogp")])
        var lossLp = 0.0
        var lossLpTerms: [Double] = []
        var largest = 0.0
        var row = 0
        for (g, group) in batch.groups.enumerated() {
            if g > 0 { table.addGroupBreak() }
            for (i, c) in group.completions.enumerated() {
                let a = b.advantages[row]
                for t in 0..<c.length {
                    let w = b.weight[row]
                    let gradLp = -w * a
                    lossLp += -w * c.logp[t] * a
                    lossLpTerms.append(-w * c.logp[t] * a)
                    largest = max(largest, abs(gradLp - b.gradLogp[row, t]))
                    table.add(["\(g)", "\(i)", "\(t)", Fmt.num(c.logp[t]), Fmt.num(a), Fmt.num(c.logp[t] * a),
                               Fmt.num(b.ratio[row, t]), Fmt.num(b.ratio[row, t] * a), Fmt.num(w),
                               Fmt.num(gradLp), Fmt.num(b.gradLogp[row, t])], limit: session.rowsNeeded(all: all))
                }
                row += 1
            }
        }
        let ratios = b.ratio.values
        let onPolicy = ratios.allSatisfy { $0 == 1 }
        var lines = [TermCommands.header(session)] + session.render(table, all: all, command: "surrogate")
        lines.append("loss_lp (log-prob form)             = \(Fmt.sum(lossLp, bound: Fmt.roundingBound(lossLpTerms), digits: 6))")
        lines.append("loss    (ratio form: 'loss' and TRL) = \(Fmt.loss(b, digits: 6))")
        lines.append("largest |dloss_lp/dlogp - dloss/dlogp| = \(Fmt.num(largest, digits: 3))")
        if onPolicy && largest <= 1e-12 {
            lines.append("every ratio is 1: the two losses differ in value but have the same gradient")
        } else {
            var why: [String] = []
            if !onPolicy { why.append("ratios are not 1 (min \(Fmt.num(ratios.min() ?? 1)), max \(Fmt.num(ratios.max() ?? 1)): lesson 03)") }
            if b.branch.values.contains(where: { $0 != .unclipped }) { why.append("some tokens are clipped (lesson 04)") }
            if b.config.beta != 0, b.kl != nil { why.append("beta = \(Fmt.num(b.config.beta)) adds the KL term's gradient (lesson 06)") }
            if b.entropyMask != nil || b.samplerWeight != nil { why.append("tokens are masked or weighed (lessons 09, 10)") }
            // One reason a line: together they ran past 150 columns.
            lines += why.count <= 1 ? ["the gradients differ: " + (why.first ?? "see the columns")]
                                    : ["the gradients differ:"] + why.map { "  " + $0 }
        }
        return lines
    }

    // MARK: deadgroups

    /// "0.25", "1/81" or "25%" as a probability in [0, 1].
    static func probability(_ text: String) throws(CommandError) -> Double {
        let value: Double?
        if let slash = text.firstIndex(of: "/") {
            let num = Double(decimalText: String(text[..<slash])), den = Double(decimalText: String(text[text.index(after: slash)...]))
            if let num, let den, den != 0 { value = num / den } else { value = nil }
        } else if text.hasSuffix("%") {
            value = Double(decimalText: String(text.dropLast())).map { $0 / 100 }
        } else {
            value = Double(decimalText: text)
        }
        guard let p = value, p.isFinite, p >= 0, p <= 1 else {
            throw CommandError("the success probability must be a number in [0, 1] such as 0.5, 1/81 or 25%, not '\(Interpreter.shorten(text))'")
        }
        return p
    }

    static let defaultGroupSizes = [2, 4, 8, 16, 32, 64]

    static func deadGroups(_ args: [String]) throws(CommandError) -> [String] {
        guard let first = args.first else {
            throw CommandError("deadgroups takes the success probability P (e.g. 'deadgroups 1/81'), then optional group sizes G")
        }
        let p = try probability(first)
        var sizes: [Int] = []
        for a in args.dropFirst() { sizes.append(try Args.integer(a, "the group size G", 1, 100_000)) }
        if sizes.isEmpty { sizes = defaultGroupSizes }
        var table = Table(title: "a binary reward, 1 with probability p = \(Fmt.num(p)): a group of G is dead (all rewards equal, std 0, every A = 0)",
                          columns: [.number("G"), .number("P(all 0) = (1-p)^G"), .number("P(all 1) = p^G"),
                                    .number("P(dead)"), .number("P(teaches)")])
        for g in sizes {
            let allZero = pow(1 - p, Double(g)), allOne = pow(p, Double(g))
            let dead = allZero + allOne
            table.add(["\(g)", Fmt.num(allZero), Fmt.num(allOne), Fmt.num(dead), Fmt.num(1 - dead)])
        }
        return table.render() + ["P(dead) = p^G + (1-p)^G; a dead group stays in the batch (TRL counts it in frac_reward_zero_std) but adds no policy gradient"]
    }

    // MARK: klexact

    /// "0.7,0.2,0.1" as a distribution: positive entries summing to 1.
    static func distribution(_ text: String, _ name: String) throws(CommandError) -> [Double] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var values: [Double] = []
        for part in parts {
            // Each entry is read like deadgroups' P: 0.25, 1/4 or 25%.
            guard let x = try? probability(String(part).trimmingWhitespace), x > 0 else {
                throw CommandError("\(name) must be probabilities above 0 separated by commas, such as 0.7,0.2,0.1 or 1/2,1/4,25%; not '\(Interpreter.shorten(text))'")
            }
            values.append(x)
        }
        guard values.count >= 2 else { throw CommandError("\(name) needs at least 2 probabilities, such as 0.7,0.2,0.1") }
        let total = values.reduce(0, +)
        guard abs(total - 1) <= 1e-6 else {
            throw CommandError("\(name) must sum to 1, not \(Fmt.num(total, digits: 8))")
        }
        return values
    }

    static func vector(_ v: [Double]) -> String {
        "(" + v.map { Fmt.num(abs($0) < 1e-12 ? 0 : $0) }.joined(separator: ", ") + ")"
    }

    static func klExact(_ args: [String]) throws(CommandError) -> [String] {
        guard args.count == 0 || args.count == 2 || args.count == 3 else {
            throw CommandError("klexact takes no argument, or P Q [OLD]: pi_theta, pi_ref (and the sampler pi_old), e.g. 'klexact 0.7,0.2,0.1 0.4,0.4,0.2'")
        }
        let p = args.count >= 2 ? try distribution(args[0], "pi_theta") : [0.7, 0.2, 0.1]
        let q = args.count >= 2 ? try distribution(args[1], "pi_ref") : [0.4, 0.4, 0.2]
        let old = args.count == 3 ? try distribution(args[2], "pi_old") : p
        guard q.count == p.count, old.count == p.count else {
            throw CommandError("the distributions need the same number of tokens: \(p.count), \(q.count)" + (args.count == 3 ? ", \(old.count)" : ""))
        }
        let sampled = args.count == 3
        let n = p.count
        let klPQ = (0..<n).reduce(0.0) { $0 + p[$1] * log(p[$1] / q[$1]) }
        let klQP = (0..<n).reduce(0.0) { $0 + q[$1] * log(q[$1] / p[$1]) }
        // Gradients with respect to the logits z of pi_theta (d log pi(x) / d z_j = [x = j] - pi_j).
        let l = (0..<n).map { log(p[$0] / q[$0]) }
        let meanL = (0..<n).reduce(0.0) { $0 + p[$1] * l[$1] }
        let gradPQ = (0..<n).map { p[$0] * (l[$0] - meanL) }
        let gradQP = (0..<n).map { p[$0] - q[$0] }
        func follows(_ grad: [Double]) -> String {
            if grad.allSatisfy({ abs($0) < 1e-12 }) { return "none (0)" }
            if zip(grad, gradPQ).allSatisfy({ abs($0 - $1) < 1e-12 }) { return "KL(theta||ref)" }
            if zip(grad, gradQP).allSatisfy({ abs($0 - $1) < 1e-12 }) { return "KL(ref||theta)" }
            return "neither"
        }

        var table = Table(title: "tokens x ~ \(sampled ? "pi_old" : "pi_theta (so ratio = 1 in value)"); expectations summed exactly over the \(n) tokens, no sampling",
                          columns: [.text("estimator"), .number("E[k]"), .number("std(k)"), .number("min k"), .text("E[dk/dlogits]"),
                                    .text("gradient of"), .number("E[ratio*k]"), .text("E[d(ratio*k)/dlogits]"), .text("ratio*k: gradient of")])
        for estimator in GRPOConfig.KLEstimator.allCases {
            var k = [Double](repeating: 0, count: n), dk = [Double](repeating: 0, count: n)
            for x in 0..<n {
                let d = log(q[x]) - log(p[x])
                switch estimator {
                case .k1: k[x] = -d; dk[x] = 1
                case .k2: k[x] = d * d / 2; dk[x] = -d
                case .k3: k[x] = expm1(d) - d; dk[x] = -expm1(d)
                case .abs: k[x] = abs(d); dk[x] = d > 0 ? -1 : d < 0 ? 1 : 0
                }
            }
            // x ~ old; the ratio r(x) = p/old has d r / d logp = r (it carries a gradient, as in TRL).
            let mean = (0..<n).reduce(0.0) { $0 + old[$1] * k[$1] }
            let variance = (0..<n).reduce(0.0) { $0 + old[$1] * (k[$1] - mean) * (k[$1] - mean) }
            func expectedGradient(_ coefficient: (Int) -> Double) -> [Double] {
                (0..<n).map { j in (0..<n).reduce(0.0) { $0 + old[$1] * coefficient($1) * (($1 == j ? 1 : 0) - p[j]) } }
            }
            let grad = expectedGradient { dk[$0] }
            let r = (0..<n).map { p[$0] / old[$0] }
            let corrected = (0..<n).reduce(0.0) { $0 + old[$1] * r[$1] * k[$1] }
            let correctedGrad = expectedGradient { r[$0] * (k[$0] + dk[$0]) }
            table.add([estimator.rawValue, Fmt.num(mean), Fmt.num(variance.squareRoot()), Fmt.num(k.min()!), vector(grad),
                       follows(grad), Fmt.num(corrected), vector(correctedGrad), follows(correctedGrad)])
        }
        var lines = ["pi_theta = \(vector(p))   pi_ref = \(vector(q))" + (sampled ? "   pi_old = \(vector(old))" : "")]
        lines.append("KL(theta||ref) = KL(pi_theta || pi_ref) = \(Fmt.num(klPQ))   the KL term's target; its gradient \(vector(gradPQ))")
        lines.append("KL(ref||theta) = KL(pi_ref || pi_theta) = \(Fmt.num(klQP))   the other direction; its gradient pi_theta - pi_ref = \(vector(gradQP))")
        lines += table.render()
        lines.append("k1 = logp - ref_logp, k2 = (logp - ref_logp)^2 / 2, k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1, abs = |logp - ref_logp|;")
        lines.append("ratio*k is use_bias_correction_kl; gradients are of the loss term with the sampled tokens held fixed, as in training")
        return lines
    }

    static let all: [Command] = [
        Command("surrogate", syntax: "[all]",
                summary: "the log-prob surrogate -w logp A beside the ratio form the loss uses: values and gradients (lesson 01)",
                term: "-sum_t w_t logp_t A_i  vs  -sum_t w_t r_t A_i") { session, args throws(CommandError) in
            try surrogate(session, args)
        },
        Command("deadgroups", syntax: "P [G...]",
                summary: "chance that a group of G binary rewards (1 with probability P) is all equal, by G (lesson 02)",
                term: "P(dead) = p^G + (1-p)^G", example: "deadgroups 1/81") { _, args throws(CommandError) in
            try deadGroups(args)
        },
        Command("klexact", syntax: "[P Q [OLD]]",
                summary: "k1, k2, k3 on a small distribution: exact mean, spread and expected gradient vs both KLs (lesson 06)",
                term: "E_x~pi[k] and E_x~pi[d k / d logits]", example: "klexact 0.7,0.2,0.1 0.4,0.4,0.2") { _, args throws(CommandError) in
            try klExact(args)
        },
    ]
}
