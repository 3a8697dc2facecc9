import GRPO

/// Side by side: the two paths, the loss types, the presets, on the same batch.
enum CompareCommands {
    static func paths(_ session: Session) throws(CommandError) -> [String] {
        let (n, v) = try session.bothBreakdowns()
        var table = Table(title: "naive (loops + scalar autodiff) vs vectorized (flat passes + analytic gradient)",
                          columns: [.text("quantity"), .number("max |naive - vectorized|"), .number("max |value|")])
        func row(_ name: String, _ a: [Double], _ b: [Double]) {
            let diff = zip(a, b).map { $0 == $1 ? 0 : abs($0 - $1) }.max() ?? 0
            table.add([name, Fmt.num(diff, digits: 2), Fmt.num(a.map(abs).max() ?? 0)])
        }
        row("loss", [n.loss], [v.loss])
        row("advantages", n.advantages, v.advantages)
        row("ratio", n.ratio.values, v.ratio.values)
        if let a = n.kl, let b = v.kl { row("kl", a.values, b.values) }
        row("per-token loss", n.perTokenLoss.values, v.perTokenLoss.values)
        row("weight", n.weight, v.weight)
        row("d loss / d logp", n.gradLogp.values, v.gradLogp.values)
        let branches = zip(n.branch.values, v.branch.values).filter { $0 != $1 }.count
        return table.render() + ["branch of the min: \(branches == 0 ? "the same at every token" : "\(branches) tokens differ")",
                                 "largest difference: \(Fmt.num(n.maxDifference(from: v), digits: 2))"]
    }

    /// Every loss_type on the current batch: the weight each aggregation gives a token, then each
    /// loss type's loss and gradient size. Generated from `LossType.allCases` and its table.
    static func lossTypes(_ session: Session, all: Bool) throws(CommandError) -> [String] {
        let batch = try session.currentBatch()
        let length = max(session.config.maxCompletionLength, batch.completions.map(\.length).max() ?? 1)
        var notes: [String] = []
        /// The loss type's own aggregation, or `aggregation` in its place.
        func breakdown(_ type: GRPOConfig.LossType, aggregation: GRPOConfig.Aggregation? = nil) throws(CommandError) -> Breakdown {
            var c = session.config
            c.lossType = type
            c.lossAggMode = aggregation
            c.maxCompletionLength = length
            // VESPO takes the token sampler modes only (as TRL): show it with token_truncate, and say so.
            if type.objective.foldsSamplerWeight && c.vllmImportanceSamplingMode.isSequenceLevel && batch.usesSamplerCorrection(c) {
                c.vllmImportanceSamplingMode = .tokenTruncate
                let note = "vespo: with vllm_importance_sampling_mode token_truncate (TRL takes no sequence mode for vespo; "
                    + "'set loss_type vespo' needs that change too)"
                if !notes.contains(note) { notes.append(note) }
            }
            return try session.lossBreakdown(batch, config: c)
        }
        // seq-mean is for a term that is one number per completion (GMPO): its weights are
        // seq-mean-token-mean's, so it gets no column of its own.
        let aggregations = GRPOConfig.Aggregation.allCases.filter { $0 != .sequenceMean }
        var byAggregation: [Breakdown] = []
        for aggregation in aggregations { byAggregation.append(try breakdown(session.config.lossType, aggregation: aggregation)) }
        var weights = Table(title: "who pays for each token: w_t under each aggregation (loss = sum_t w_t L_t)",
                            columns: [.number("g"), .number("i"), .number("t"), .number("|o_i|"), .number("A")]
                              + aggregations.map { .number(weightFormula($0)) })
        var row = 0
        for (g, group) in batch.groups.enumerated() {
            if g > 0 { weights.addGroupBreak() }
            for (i, c) in group.completions.enumerated() {
                for t in 0..<c.length {
                    weights.add(["\(g)", "\(i)", "\(t)", "\(c.length)", Fmt.num(byAggregation[0].advantages[row])]
                                + byAggregation.map { Fmt.num($0.counts(row: row, token: t) ? $0.weight[row] : 0) },
                                limit: session.rowsNeeded(all: all))
                }
                row += 1
            }
        }
        var types = Table(title: "each loss_type: its objective and aggregation, on this batch",
                          columns: [.text("loss_type"), .text("objective"), .text("aggregation"), .number("loss"), .number("|dloss/dlogp|")])
        var noise: [Double] = []
        for type in GRPOConfig.LossType.allCases {
            let b = try breakdown(type)
            let norm = b.gradLogp.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if b.lossIsRoundingNoise { noise.append(b.loss) }
            types.add([type.rawValue, type.objective.rawValue, type.aggregation.rawValue, Fmt.lossCell(b, digits: 10), Fmt.num(norm)])
        }
        notes = Fmt.roundingNote(noise) + notes
        if session.config.resolvedEpsilonHigh < 1 {
            notes.append("cispo: capped at epsilon_high = \(session.config.resolvedEpsilonHigh.optionText), below 1, so even r = 1 keeps "
                         + "only that share of the gradient (TRL recommends 'set epsilon_high 5' for cispo)")
        }
        return session.render(weights, all: all, command: "compare loss_type") + [
            "1/(B |o_i|): seq-mean-token-mean, a short completion's tokens weigh more; 1/N: token-mean, every token the same;",
            "1/(B L): seq-mean-token-sum-norm, L = \(session.config.lossScaleFactor.map { Fmt.num($0) } ?? "\(length)"); 1/B: seq-mean-token-sum, a completion weighs by its length;",
            "1: token-sum (verl's; no TRL loss_type), no normalizer",
            "",
        ] + types.render() + notes
    }

    /// A token's weight under an aggregation, as a column header.
    static func weightFormula(_ aggregation: GRPOConfig.Aggregation) -> String {
        switch aggregation {
        case .sequenceMeanTokenMean: "1/(B |o_i|)"
        case .tokenMean: "1/N"
        case .constantNormalizer: "1/(B L)"
        case .sequenceMeanTokenSum: "1/B"
        case .tokenSum: "1"
        case .sequenceMean: "1/(B |o_i|)"
        }
    }

    static func presets(_ session: Session) throws(CommandError) -> [String] {
        let batch = try session.currentBatch()
        // As the 'preset' command does, max_completion_length stays the session's (dr_grpo divides by it).
        let length = max(session.config.maxCompletionLength, batch.completions.map(\.length).max() ?? 1)
        var table = Table(title: "the same batch under each preset (max_completion_length \(length), as now)",
                          columns: [.text("preset"), .number("loss"), .number("|dloss/dlogp|"), .number("clip_region"), .number("kl")])
        var noise: [Double] = []
        for preset in Preset.allCases {
            var c = preset.config
            c.maxCompletionLength = length
            if !batch.hasReference { c.beta = 0 }
            try session.stopIfAsked()
            do throws(BatchError) {
                let b = try session.breakdownBySize(batch, config: c)
                let norm = b.gradLogp.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
                if b.lossIsRoundingNoise { noise.append(b.loss) }
                table.add([preset.rawValue, Fmt.lossCell(b), Fmt.num(norm), Fmt.num(b.metrics.clipRatioRegion),
                           b.metrics.kl.map { Fmt.num($0) } ?? "-"])
            } catch {
                table.add([preset.rawValue, "(\(error.message))"])
            }
        }
        return table.render() + Fmt.roundingNote(noise)
    }

    static let all: [Command] = [
        Command("compare", syntax: "[paths|loss_type|presets] [all]",
                summary: "side by side on the current batch: the two paths (default), the loss types, or the presets",
                example: "compare loss_type", completion: .words(["paths", "loss_type", "presets"])) { session, args throws(CommandError) in
            let what = args.first { $0 != "all" } ?? "paths"
            switch what {
            case "paths": return try paths(session)
            case "loss_type", "loss_types": return try lossTypes(session, all: Args.wantsAll(args))
            case "presets", "preset": return try presets(session)
            default: throw CommandError("compare takes paths, loss_type or presets, not '\(what)'")
            }
        },
    ]
}
