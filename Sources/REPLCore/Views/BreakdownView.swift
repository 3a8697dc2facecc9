import GRPO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tables of a `Breakdown`, shared by `explain` and the REPL's per-term commands: each table is
/// titled with the formula its numbers evaluate, rows are grouped by prompt, numbers line up.
public enum BreakdownView {
    /// One per-token column: its header and how to read it off the batch and breakdown.
    public enum TokenColumn: String, CaseIterable, Sendable {
        case logp, oldLogp, refLogp, samplerLogp, samplerLag, behaviourRatio, entropy, advantage, ratio, unclippedTerm, clippedRatio,
             clippedTerm, branch, cispoWeight, sapoGate, vespoWeight, lossMask, offPolicyMask, entropyMask, samplerWeight,
             kl, logRatioPenalty, perTokenLoss, weight, weightedLoss, grad

        public var header: String {
            switch self {
            case .logp: "logp"
            case .oldLogp: "old_logp"
            case .refLogp: "ref_logp"
            case .samplerLogp: "sampler_logp"
            case .samplerLag: "lag"
            case .behaviourRatio: "pi/pi_sampler"
            case .entropy: "entropy"
            case .advantage: "A"
            case .unclippedTerm: "ratio*A"
            case .clippedTerm: "clip*A"
            case .ratio: "ratio"
            case .clippedRatio: "clip(ratio)"
            case .branch: "min takes"
            case .cispoWeight: "sg(min(r,cap))"
            case .sapoGate: "gate(r)"
            case .vespoWeight: "sg(phi_i)"
            case .lossMask: "trained"
            case .offPolicyMask: "keep_i"
            case .entropyMask: "kept"
            case .samplerWeight: "IS weight"
            case .kl: "KL"
            case .logRatioPenalty: "k_t"
            case .perTokenLoss: "L_t"
            case .weight: "w_t"
            case .weightedLoss: "w_t*L_t"
            case .grad: "dloss/dlogp"
            }
        }

        var isNumber: Bool {
            switch self {
            case .branch, .lossMask, .offPolicyMask, .entropyMask: false
            default: true
            }
        }

        /// The cell's number (for number columns) or text, or nil when the batch lacks it.
        func value(_ c: Completion, _ b: Breakdown, row: Int, token t: Int) -> Either? {
            switch self {
            case .logp: .number(c.logp[t])
            case .oldLogp: .number(c.oldLogp[t])
            case .refLogp: c.refLogp.map { .number($0[t]) }
            case .samplerLogp: c.samplerLogp.map { .number($0[t]) }
            // How many updates behind theta the token's sampler was, and the ratio against the
            // policy that really sampled it: pi_theta / pi_sampler = exp(logp - sampler_logp).
            case .samplerLag: c.samplerLag.map { .number(Double($0[t])) }
            case .behaviourRatio: c.samplerLogp.map { .number(exp(c.logp[t] - $0[t])) }
            case .entropy: c.entropy.map { .number($0[t]) }
            case .advantage: .number(b.advantages[row])
            case .ratio: .number(b.ratio[row, t])
            case .unclippedTerm: .number(Naive.surrogateTerms(ratio: b.ratio[row, t], advantage: b.advantages[row], config: b.config).unclipped)
            case .clippedRatio: .number(b.config.clip(b.ratio[row, t]))
            case .clippedTerm: .number(Naive.surrogateTerms(ratio: b.ratio[row, t], advantage: b.advantages[row], config: b.config).clipped)
            case .branch: .text(minCase(ratio: b.ratio[row, t], advantage: b.advantages[row], branch: b.branch(row: row, token: t), config: b.config))
            case .cispoWeight: .number(min(b.ratio[row, t], b.config.resolvedEpsilonHigh))
            case .sapoGate:
                .number(Naive.sapoGate(Scalar(b.ratio[row, t]),
                                       temperature: Naive.sapoTemperature(advantage: b.advantages[row], config: b.config)).value)
            case .vespoWeight: b.vespoWeight.map { .number($0[row]) }
            case .lossMask: b.lossMask.map { .text($0[row, t] ? "yes" : "no") }
            case .offPolicyMask: b.offPolicyMask.map { .text($0[row] ? "yes" : "no") }
            case .entropyMask: b.entropyMask.map { .text($0[row, t] ? "yes" : "no") }
            case .samplerWeight: b.samplerWeight.map { .number($0[row, t]) }
            case .kl: b.kl.map { .number($0[row, t]) }
            case .logRatioPenalty: c.logRatioPenalty.map { .number($0[t]) }
            case .perTokenLoss: .number(b.perTokenLoss[row, t])
            // A token the loss does not train on weighs nothing.
            case .weight: .number(b.counts(row: row, token: t) ? b.weight[row] : 0)
            case .weightedLoss: .number(b.weightedLoss(row: row, token: t))
            case .grad: .number(b.gradLogp[row, t])
            }
        }
    }

    enum Either {
        case number(Double)
        case text(String)
    }

    /// True when the batch and config give this column numbers (no KL without ref_logp, no
    /// mask when top_entropy_quantile is 1, ...).
    public static func isAvailable(_ column: TokenColumn, _ batch: Batch, _ b: Breakdown) -> Bool {
        switch column {
        case .refLogp, .kl: b.kl != nil
        case .samplerLogp, .behaviourRatio: batch.hasSampler
        case .samplerLag: batch.completions.contains { $0.samplerLag != nil }
        case .logRatioPenalty: batch.hasLogRatioPenalty
        case .samplerWeight: b.samplerWeight != nil
        case .entropy: batch.hasEntropy
        case .entropyMask: b.entropyMask != nil
        case .lossMask: b.lossMask != nil
        case .offPolicyMask: b.offPolicyMask != nil
        // Each objective's own weight, and the clip columns for clip-and-min.
        case .unclippedTerm, .clippedRatio, .clippedTerm, .branch: b.config.objective == .clipMin
        case .cispoWeight: b.config.objective == .cispo
        case .sapoGate: b.config.objective == .sapo
        case .vespoWeight: b.vespoWeight != nil
        case .logp, .oldLogp, .advantage, .ratio, .perTokenLoss, .weight, .weightedLoss, .grad: true
        }
    }

    /// The columns of the loss's own objective term (`objective`'s table).
    public static func objectiveColumns(_ objective: GRPOConfig.PolicyObjective) -> [TokenColumn] {
        switch objective {
        case .clipMin: [.ratio, .advantage, .unclippedTerm, .clippedRatio, .clippedTerm, .branch, .offPolicyMask, .lossMask]
        case .cispo: [.ratio, .advantage, .cispoWeight, .logp, .offPolicyMask, .lossMask, .perTokenLoss, .grad]
        case .sapo: [.ratio, .advantage, .sapoGate, .offPolicyMask, .lossMask, .perTokenLoss, .grad]
        case .vespo: [.ratio, .advantage, .vespoWeight, .logp, .offPolicyMask, .lossMask, .perTokenLoss, .grad]
        case .reinforce: [.advantage, .logp, .offPolicyMask, .lossMask, .perTokenLoss, .grad]
        case .geoMean: [.ratio, .advantage, .logp, .oldLogp, .offPolicyMask, .lossMask, .perTokenLoss, .grad]
        case .dro: [.ratio, .advantage, .logp, .oldLogp, .offPolicyMask, .lossMask, .perTokenLoss, .grad]
        case .dppoTV, .dppoKL: [.ratio, .advantage, .logp, .oldLogp, .offPolicyMask, .lossMask, .perTokenLoss, .grad]
        case .unclipped: [.ratio, .advantage, .logp, .oldLogp, .logRatioPenalty, .offPolicyMask, .lossMask, .perTokenLoss, .grad]
        }
    }

    /// Every stored quantity the loss used, for `explain` and `tokens` (derived columns such as
    /// ratio*A are left to the commands that teach them).
    public static func allColumns(_ batch: Batch, _ b: Breakdown) -> [TokenColumn] {
        // The ratio against each token's own sampler only where a stale sampler makes it the
        // question (asynchronous RL); otherwise the IS weight already says it.
        let stale = batch.completions.contains { $0.samplerLag != nil }
        let derived: [TokenColumn] = [.advantage, .unclippedTerm, .clippedTerm, .weightedLoss, .cispoWeight, .sapoGate]
            + (stale ? [] : [.behaviourRatio])
        return TokenColumn.allCases.filter { !derived.contains($0) && isAvailable($0, batch, b) }
    }

    /// Per-token rows (group, completion within the group, token) with the chosen columns.
    /// With `maxRows`, rows past it are only counted (`Table.addOmittedRows`): a table of a big
    /// batch formats the rows it shows, not every token.
    public static func tokenTable(_ batch: Batch, _ b: Breakdown, columns: [TokenColumn], title: String,
                                  headers: [TokenColumn: String] = [:], digits: Int = 4, maxRows: Int? = nil) -> Table {
        var table = Table(title: title, columns: [.number("g"), .number("i"), .number("t")] + columns.map {
            let header = headers[$0] ?? $0.header
            return $0.isNumber ? .number(header) : .text(header)
        })
        var row = 0, made = 0
        let limit = maxRows ?? .max
        for (g, group) in batch.groups.enumerated() {
            if g > 0 && made < limit { table.addGroupBreak() }
            for (i, c) in group.completions.enumerated() {
                if c.length == 0 {
                    if made < limit { table.add(["\(g)", "\(i)", "-", "(empty completion)"]) } else { table.addOmittedRows(1) }
                    made += 1
                }
                for t in 0..<c.length {
                    guard made < limit else {
                        table.addOmittedRows(c.length - t)
                        break
                    }
                    made += 1
                    let cells = columns.map { column -> String in
                        switch column.value(c, b, row: row, token: t) {
                        case .number(let x)?: Fmt.num(x, digits: digits)
                        case .text(let s)?: s
                        case nil: "-"
                        }
                    }
                    table.add(["\(g)", "\(i)", "\(t)"] + cells)
                }
                row += 1
            }
        }
        return table
    }

    /// One row per completion: reward, the group's mean and std, the advantage, and its length
    /// (or, when the batch gives its advantages, just those).
    /// `givenTitle` says where given advantages came from (a trainer, by default).
    public static func advantageTable(_ batch: Batch, _ b: Breakdown, digits: Int = 4,
                                      givenTitle: String = givenAdvantagesTitle) -> Table {
        let c = b.config
        if batch.hasGivenAdvantages {
            var table = Table(title: givenTitle,
                              columns: [.number("g"), .number("i"), .number("A_i"), .number("|o_i|")])
            var row = 0
            for (g, group) in batch.groups.enumerated() {
                if g > 0 { table.addGroupBreak() }
                for (i, completion) in group.completions.enumerated() {
                    table.add(["\(g)", "\(i)", Fmt.num(b.advantages[row], digits: digits), "\(completion.length)"])
                    row += 1
                }
            }
            return table
        }
        var formula: String
        switch (c.multiObjectiveAggregation, c.scaleRewards) {
        case (.sumThenNormalize, .none): formula = "A_i = r_i - mean(group)   (scale_rewards=none: no division)"
        case (.sumThenNormalize, .group):
            formula = "A_i = (r_i - mean(group)) / (std(group) + \(Fmt.num(c.stdEpsilon)))   [\(c.stdEstimator.rawValue) std]"
        case (.sumThenNormalize, .batch):
            formula = "A_i = (r_i - mean(group)) / (std(batch) + \(Fmt.num(c.stdEpsilon)))   [\(c.stdEstimator.rawValue) std]"
        case (.normalizeThenSum, _):
            formula = "GDPO: s_i = sum_f w_f z_if (z: each function standardized in its group); A_i = s_i / (std(s over the batch) "
                + "+ \(Fmt.num(c.stdEpsilon)))"
        }
        if batch.hasRewardsPerFunction { formula += "; reward = sum_f w_f r_if" }
        var table = Table(title: formula, columns: [.number("g"), .number("i"), .number("reward"), .number("mean"),
                                                    .number("std"), .number("A_i"), .number("|o_i|")])
        var row = 0
        for (g, group) in batch.groups.enumerated() {
            if g > 0 { table.addGroupBreak() }
            for (i, completion) in group.completions.enumerated() {
                // Several reward functions: their weighted sum; none scored it: "none" (A = 0).
                let reward = Naive.weightedReward(completion, weights: c.rewardWeights).map { Fmt.num($0, digits: digits) } ?? "none"
                table.add(["\(g)", "\(i)", reward, Fmt.num(b.groupMean[g], digits: digits),
                           Fmt.num(b.groupStd[g], digits: digits), Fmt.num(b.advantages[row], digits: digits),
                           "\(completion.length)"])
                row += 1
            }
        }
        return table
    }

    /// The formula of the per-token loss under this config, as one line.
    /// The clip range's ends, exactly (GSPO's 1.0004 must not print as 1).
    public static func clipRange(_ c: GRPOConfig) -> String {
        "\((1 - c.epsilon).optionText), \((1 + c.resolvedEpsilonHigh).optionText)"
    }

    /// The formula of the per-token loss under this config, as one line; `samplerWeighted` when
    /// the batch's policy terms carry the sampler/trainer correction (VESPO folds it into w).
    public static let givenAdvantagesTitle = "A_i as given in the batch (computed by the trainer; no group-relative step here)"

    /// `penalized`: the completions carry log-ratio penalties (`Completion.logRatioPenalty`).
    public static func lossFormula(_ c: GRPOConfig, samplerWeighted: Bool = false, penalized: Bool = false) -> String {
        let ratio = c.importanceSamplingLevel == .sequence ? "s_i" : "r_t"
        var formula: String
        switch c.objective {
        case .clipMin:
            switch (c.deltaForm, c.delta) {
            case (.dualClip, let delta?):
                formula = "L_t = -max(min(\(ratio) A, clip(\(ratio), \(clipRange(c))) A), \(Fmt.num(delta)) A if A < 0)"
            case (.cap, let delta?): formula = "L_t = -min(min(\(ratio), \(Fmt.num(delta))) A, clip(\(ratio), \(clipRange(c))) A)"
            case (_, nil): formula = "L_t = -min(\(ratio) A, clip(\(ratio), \(clipRange(c))) A)"
            }
        case .cispo:
            switch c.cispoClip {
            case .cap: formula = "L_t = -sg(min(\(ratio), \(c.resolvedEpsilonHigh.optionText))) A logp_t"
            case .range: formula = "L_t = -sg(clip(\(ratio), \(clipRange(c)))) A logp_t"
            }
        case .sapo:
            formula = "L_t = -sigmoid(tau (\(ratio) - 1)) 4/tau A   (tau \(c.sapoTemperaturePos.optionText) if A > 0, "
                + "\(c.sapoTemperatureNeg.optionText) else)"
        case .vespo:
            formula = "L_t = -sg(phi(w_i)) A logp_t"
        case .reinforce:
            formula = "L_t = -A logp_t"
        case .unclipped:
            formula = "L_t = -\(ratio) A"
        case .geoMean:
            formula = "L_i = -A s_i,  s_i = exp(mean_t clip_A(logp_t - old_logp_t)), clipped into [-\(c.epsilon.optionText), "
                + "\(c.resolvedEpsilonHigh.optionText)] on the side A pushes"
        case .dro:
            formula = "L_t = -(A logp_t - \(Fmt.num(c.droBeta))/2 (logp_t - old_logp_t)^2)"
        case .dppoTV, .dppoKL:
            let cap = c.delta.map { "min(\(ratio), \(Fmt.num($0)))" } ?? ratio
            let region = c.objective == .dppoKL ? "Bernoulli KL(p_old, p)" : "p - p_old"
            formula = "L_t = -sg(\(cap)) A logp_t * valid_t   (valid: \(region) within \(c.epsilon.optionText) / "
                + "\(c.resolvedEpsilonHigh.optionText) in A's direction)"
        }
        if penalized { formula = withLogRatioPenalty(formula) }
        if c.offPolicyMaskThreshold != nil { formula += " * keep_i" }
        if c.topEntropyQuantile < 1 { formula += " * kept" }
        if samplerWeighted && !c.objective.foldsSamplerWeight { formula += " * IS weight" }
        if c.beta != 0 {
            let kl = c.klEstimator.rawValue + (c.klClamp && c.klEstimator == .k3 ? " (clamped)" : "")
                + (c.klStraightThrough ? " (k2's gradient)" : "")
            formula += " + \(Fmt.num(c.beta)) * \(kl)\(c.useBiasCorrectionKL ? " * \(ratio)" : "")"
        }
        // The clamps, where the objective reads the ratio (REINFORCE does not, DRO's penalty uses the raw log-ratio).
        switch c.objective {
        case .clipMin, .cispo, .sapo, .vespo, .dppoTV, .dppoKL, .unclipped:
            if let clamp = c.logRatioClamp { formula += "; log r clamped to +-\(Fmt.num(clamp))" }
            if let cap = c.sequenceLogRatioCap, c.importanceSamplingLevel == .sequence { formula += "; log s capped at \(Fmt.num(cap))" }
        case .reinforce, .dro, .geoMean:
            break  // GMPO clips inside its mean: its formula says so
        }
        return formula
    }

    /// "L_t = f" as "L_t = (f + k_t |logp_t - old_logp_t|)": the penalty is inside the policy
    /// term, so the masks and weights that follow multiply both.
    static func withLogRatioPenalty(_ formula: String) -> String {
        guard let equals = formula.range(of: " = ") else { return formula }
        return formula[..<equals.upperBound] + "(" + formula[equals.upperBound...] + " + k_t |logp_t - old_logp_t|)"
    }

    /// How the per-token losses are aggregated under this loss_type (|o_i| and N count the tokens
    /// the loss trains on), and the entropy bonus when it is on.
    public static func aggregationFormula(_ c: GRPOConfig) -> String {
        let entropy = c.entropyAggregation == .actingTokenMean ? "mean entropy" : "agg(entropy)"
        let bonus = c.entropyCoef == 0 ? ""
            : (c.entropyCoef > 0 ? " - \(Fmt.num(c.entropyCoef))" : " + \(Fmt.num(-c.entropyCoef))") + " * \(entropy)"
        // The policy term's aggregation (the w_t column's); the regularizers' when it differs.
        let regularizers = c.policyAggregation == c.aggregation ? ""
            : "   (w_t of the policy term; the KL and entropy aggregated as \(c.aggregation.rawValue))"
        return aggregationLine(c, c.policyAggregation, bonus: bonus) + regularizers
    }

    /// The formula line of `aggregation`, with the entropy term `bonus`.
    static func aggregationLine(_ c: GRPOConfig, _ aggregation: GRPOConfig.Aggregation, bonus: String) -> String {
        switch aggregation {
        case .sequenceMeanTokenMean: return "loss = 1/B sum_i 1/|o_i| sum_t L_t\(bonus)        (w_t = 1 / (B |o_i|))"
        case .tokenMean: return "loss = 1/N sum_i sum_t L_t\(bonus)              (w_t = 1 / N, N = the tokens trained on)"
        case .constantNormalizer:
            let length = c.lossScaleFactor.map { "loss_scale_factor = \(Fmt.num($0))" } ?? "max_completion_length = \(c.maxCompletionLength)"
            return "loss = 1/(B L) sum_i sum_t L_t\(bonus)          (w_t = 1 / (B L), L = \(length))"
        case .sequenceMeanTokenSum: return "loss = 1/B sum_i sum_t L_t\(bonus)              (w_t = 1 / B: a completion weighs by its length)"
        case .tokenSum: return "loss = sum_i sum_t L_t\(bonus)                  (w_t = 1: no normalizer)"
        case .sequenceMean: return "loss = 1/B sum_i L_i\(bonus)                    (w_t = 1 / (B |o_i|): a completion's one term, at each of its tokens)"
        }
    }

    /// The logged metrics as aligned "name  value" lines, TRL's names; the ones TRL does not log
    /// for these options are left out, and an absent kl or entropy says why.
    public static func metricLines(_ m: Metrics) -> [String] {
        var pairs = m.named.map { ($0.name, Fmt.num($0.value)) }
        if m.kl == nil { pairs.append(("kl", "- (no ref_logp)")) }
        if m.fracRewardZeroStd == nil { pairs.append(("frac_reward_zero_std", "- (advantages given, no rewards)")) }
        if m.entropy == nil { pairs.append(("entropy", "- (no entropy given)")) }
        return pairLines(pairs)
    }

    /// "name  value" lines, the values aligned.
    public static func pairLines(_ pairs: [(String, String)]) -> [String] {
        let width = pairs.map(\.0.count).max() ?? 0
        return pairs.map { $0.0.padding(toLength: width) + "  " + $0.1 }
    }
}

extension String {
    func padding(toLength n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

extension BreakdownView {
    /// The `min takes` cell: which of lesson 04's cases the token is in, and so which term the
    /// min took.
    ///
    ///     r A, inside    1 - epsilon <= r <= 1 + epsilon_high: both terms equal, the gradient flows
    ///     clip, row 1    A > 0, r above the range: clip(r) A, no gradient
    ///     r A, row 2     A > 0, r below the range: r A, the gradient flows
    ///     r A, row 3     A < 0, r above the range: r A, the gradient flows (and grows with r)
    ///     clip, row 4    A < 0, r below the range: clip(r) A, no gradient
    ///     A = 0          both terms 0 whatever r: no gradient
    ///     capped         the ratio capped by `delta` (lesson 04's two-sided clipping): no gradient
    /// The line under a table with the `min takes` column: what its rows are.
    static let minCaseLegend = "min takes, by lesson 04's table: row 1 A > 0 r above the range, row 2 A > 0 r below, "
        + "row 3 A < 0 r above, row 4 A < 0 r below; rows 1 and 4 clip (no gradient)"

    static func minCase(ratio r: Double, advantage a: Double, branch: ClipBranch, config: GRPOConfig) -> String {
        if branch == .capped { return "capped" }
        if a == 0 { return "A = 0" }
        if config.clip(r) == r { return "r A, inside" }
        let above = r > config.clip(r)
        switch (a > 0, above) {
        case (true, true): return "clip, row 1"
        case (true, false): return "r A, row 2"
        case (false, true): return "r A, row 3"
        case (false, false): return "clip, row 4"
        }
    }
}
