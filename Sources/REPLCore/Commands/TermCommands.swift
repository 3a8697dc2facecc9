import GRPO

/// One command per term of the loss, each printing its quantity for the current batch as a
/// table titled with the formula.
enum TermCommands {
    typealias Column = BreakdownView.TokenColumn

    static func header(_ session: Session) -> String {
        "batch: \(session.batchOrigin)  (\(session.shownPath.rawValue) path"
            + (session.shownPath == session.displayPath ? ")" : ": too many tokens for the naive path)")
    }

    static func tokens(_ session: Session, _ args: [String], command: String, title: String,
                       columns: [Column], headers: [Column: String] = [:]) throws(CommandError) -> [String] {
        let batch = try session.shownBatch()
        let b = try session.breakdown()
        let present = columns.filter { BreakdownView.isAvailable($0, batch, b) }
        // A clip range as narrow as GSPO's (1e-4) needs more digits to be seen.
        let c = session.config
        let digits = min(c.epsilon, c.resolvedEpsilonHigh) < 0.01 ? 6 : 4
        let all = Args.wantsAll(args)
        let table = BreakdownView.tokenTable(batch, b, columns: present, title: title, headers: headers, digits: digits,
                                             maxRows: session.rowsNeeded(all: all))
        return [header(session)] + session.render(table, all: all, command: command)
            + (present.contains(.branch) ? [BreakdownView.minCaseLegend] : [])
    }

    static let all: [Command] = [
        Command("advantages", aliases: ["adv"], syntax: "[all]",
                summary: "group-relative advantages: each reward against its group's mean and std",
                term: "A_i = (r_i - mean(group)) / (std + eps)") { session, args throws(CommandError) in
            try Args.onlyAll(args, "advantages")
            let batch = try session.shownBatch()
            let b = try session.breakdown()
            var lines = [header(session)] + session.render(BreakdownView.advantageTable(batch, b, givenTitle: try session.advantageSource()), all: Args.wantsAll(args), command: "advantages")
            let dead = b.groupStd.filter(Naive.isZeroStd).count
            if dead > 0 {
                lines.append("\(dead) of \(b.groupStd.count) group(s) have all rewards equal (std 0): their advantages are 0 and teach nothing")
            }
            return lines
        },
        Command("logprobs", aliases: ["logp"], syntax: "[all]",
                summary: "log-probabilities of each token under theta, theta_old and theta_ref, side by side",
                term: "log pi_theta(o_t), log pi_old(o_t), log pi_ref(o_t)") { session, args throws(CommandError) in
            try Args.onlyAll(args, "logprobs")
            return try tokens(session, args, command: "logprobs",
                              title: "logp = log pi_theta (trained)   old_logp = log pi_old (sampled it)   ref_logp = log pi_ref (KL anchor)",
                              columns: [.logp, .oldLogp, .refLogp, .samplerLogp, .entropy])
        },
        Command("ratio", syntax: "[all]", summary: "the importance ratio of every token",
                term: "r_t = pi_theta / pi_old = exp(logp - old_logp)") { session, args throws(CommandError) in
            try Args.onlyAll(args, "ratio")
            let sequence = session.config.importanceSamplingLevel == .sequence
            let title = sequence ? "s_i = exp(mean_t(logp - old_logp)): one ratio per completion (GSPO), shown at each token"
                                 : "r_t = pi_theta / pi_old = exp(logp - old_logp)"
            return try tokens(session, args, command: "ratio", title: title, columns: [.logp, .oldLogp, .ratio])
        },
        Command("clip", syntax: "[all]", summary: "the clipped ratio and which term the min takes",
                term: "min(r A, clip(r, 1 - eps, 1 + eps_high) A)") { session, args throws(CommandError) in
            try Args.onlyAll(args, "clip")
            let c = session.config
            guard c.objective == .clipMin else {
                throw CommandError("loss_type \(c.lossType.rawValue) has no clip and min (\(c.lossType.summary)); 'objective' shows its term")
            }
            // delta is TRL's cap of the unclipped ratio, or verl's dual clip (a floor for A < 0 only).
            let capped = c.delta != nil && c.deltaForm == .cap
            let title = "min(ratio*A, clip(ratio, \(BreakdownView.clipRange(c)))*A)"
                + (c.delta.map { capped ? "   (ratio capped at delta = \(Fmt.num($0)))" : "   (dual clip: at least \(Fmt.num($0)) A where A < 0)" } ?? "")
            var lines = try tokens(session, args, command: "clip", title: title,
                                   columns: [.ratio, .advantage, .unclippedTerm, .clippedRatio, .clippedTerm, .branch],
                                   headers: capped ? [.unclippedTerm: "min(ratio,delta)*A"] : [:])
            lines.append("clipped/capped tokens pass no policy gradient: the min chose a term that does not move with the ratio")
            return lines
        },
        Command("kl", syntax: "[all]", summary: "the per-token KL estimate to the reference policy",
                term: "k3 = exp(ref - logp) - (ref - logp) - 1") { session, args throws(CommandError) in
            try Args.onlyAll(args, "kl")
            let c = session.config
            var formula: String
            switch c.klEstimator {
            case .k1: formula = "k1 = logp - ref_logp"
            case .k2: formula = "k2 = (logp - ref_logp)^2 / 2"
            case .k3: formula = "k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1" + (c.klClamp ? ", clamped (kl_clamp)" : "")
            case .abs: formula = "abs = |logp - ref_logp|"
            }
            if c.klStraightThrough { formula += "; gradient of k2 (kl_straight_through)" }
            let b = try session.breakdown()
            guard b.kl != nil else { throw CommandError("this batch has no ref_logp, so there is no KL to show") }
            var lines = try tokens(session, args, command: "kl",
                                   title: formula + (c.useBiasCorrectionKL ? "   (times the ratio: use_bias_correction_kl)" : ""),
                                   columns: c.useBiasCorrectionKL ? [.logp, .refLogp, .ratio, .kl] : [.logp, .refLogp, .kl])
            lines.append("mean KL = \(Fmt.num(b.metrics.kl ?? 0)); beta = \(Fmt.num(c.beta))"
                         + (c.beta == 0 ? " (reported, adds nothing to the loss or gradient)" : ""))
            return lines
        },
        Command("loss", syntax: "[all]", summary: "per-token loss, each token's weight under loss_type, and the loss",
                term: "loss = sum_t w_t L_t") { session, args throws(CommandError) in
            try Args.onlyAll(args, "loss")
            let c = session.config
            let b = try session.breakdown()
            let penalized = try session.shownBatch().hasLogRatioPenalty
            var lines = try tokens(session, args, command: "loss",
                                   title: BreakdownView.lossFormula(b.config, samplerWeighted: b.samplerWeight != nil, penalized: penalized),
                                   columns: [.advantage, .ratio, .lossMask, .offPolicyMask, .entropyMask, .samplerWeight, .kl,
                                             .perTokenLoss, .weight, .weightedLoss])
            lines.append(BreakdownView.aggregationFormula(b.config))
            lines.append("loss = \(Fmt.loss(b))   (loss = -objective: minimizing it raises the objective)")
            lines += NonFinite.warnings(b)
            return lines
        },
        Command("grad", syntax: "[all]", summary: "d loss / d logp for every token",
                term: "d loss / d logp_t") { session, args throws(CommandError) in
            try Args.onlyAll(args, "grad")
            let b = try session.breakdown()
            var lines = try tokens(session, args, command: "grad", title: "d loss / d logp_t   (negative: training raises this token's log-prob)",
                                   columns: [.advantage, .ratio, .branch, .lossMask, .offPolicyMask, .weight, .grad])
            let norm = b.gradLogp.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
            lines.append("|d loss / d logp| = \(Fmt.num(norm)); loss = \(Fmt.loss(b))")
            lines += NonFinite.warnings(b)
            return lines
        },
        Command("tokens", syntax: "[all]", summary: "every per-token quantity in one table",
                term: "all of the above") { session, args throws(CommandError) in
            try Args.onlyAll(args, "tokens")
            let batch = try session.shownBatch()
            let b = try session.breakdown()
            return try tokens(session, args, command: "tokens",
                              title: BreakdownView.lossFormula(b.config, samplerWeighted: b.samplerWeight != nil, penalized: batch.hasLogRatioPenalty),
                              columns: BreakdownView.allColumns(batch, b))
        },
        Command("metrics", summary: "the numbers TRL logs for this batch: clip fractions, KL, zero-std groups",
                term: "clip_ratio/*, kl, frac_reward_zero_std") { session, args throws(CommandError) in
            try Args.none(args, "metrics")
            let b = try session.breakdown()
            if session.library == .verl {
                // verl's names for what its actor and trainer log (`VerlMetrics`).
                let batch = if let file = session.verlFile { file.responseBatch } else { try session.currentBatch() }
                let pairs = VerlMetrics.metrics(b, batch: batch, options: session.verlOptions).map { ($0.name, Fmt.num($0.value)) }
                return [header(session)] + BreakdownView.pairLines(pairs) + ["loss = \(Fmt.loss(b))"]
            }
            return [header(session)] + BreakdownView.metricLines(b.metrics) + ["loss = \(Fmt.loss(b))"]
        },
    ]
}
