import GRPO

/// `verl`: the current batch through verl 0.9.1's actor loss (`VerlOptions`, `VerlMetrics`), one
/// row per `loss_agg_mode`. A batch `explain` read from a file with `"verl"` options keeps them
/// (its loss mode, KL type, entropy term, ...). Otherwise the options TRL and verl share come
/// from the session (`epsilon` and `epsilon_high` as `clip_ratio_low` / `clip_ratio_high`, `beta`
/// as `kl_loss_coef`, `max_completion_length` as `max_response_length`, `delta` as
/// `clip_ratio_c`) and what only verl has takes verl's default (the dual clip at 3, the
/// log-ratio clamp, `low_var_kl`). The advantages are the session's, given to verl as a dumped
/// mini-batch carries them, so the table compares the losses alone. Lesson 13.
enum VerlCommand {
    static func run(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        try Args.none(args, "verl")
        let batch = try session.currentBatch()
        let b = try session.breakdown()
        let c = session.config
        var options = session.verlFile?.options ?? VerlOptions()
        let given: Batch
        let source: String
        if session.library == .verl {
            // The session speaks verl: its own options, and verl's advantages from the rewards.
            options = session.verlOptionsAsComputed()
            given = session.verlFile?.responseBatch ?? batch
            source = "the session's verl options"
        } else {
            if session.verlFile == nil {
                options.clipRatioLow = c.epsilon
                options.clipRatioHigh = c.resolvedEpsilonHigh
                options.clipRatioC = c.delta ?? options.clipRatioC
                options.useKLLoss = c.beta != 0 && batch.hasReference
                options.klLossCoef = c.beta
                options.maxResponseLength = max(c.maxCompletionLength, batch.completions.map(\.length).max() ?? 1)
            }
            given = verlBatch(session.verlFile?.responseBatch, or: batch, b)
            source = session.verlFile == nil ? "A as this session computed it" : "the file's options"
        }
        var lines = [TermCommands.header(session), "verl 0.9.1: " + ExplainText.changedVerlSettings(options) + "; " + source]
        var table = Table(title: "what verl's actor backpropagates, by loss_agg_mode",
                          columns: [.text("loss_agg_mode"), .number("actor/pg_loss"), .number("loss"), .text("TRL loss_type")])
        // The metrics are shown under the file's loss_agg_mode (token-mean, verl's default, otherwise).
        let shownMode = options.lossAggMode
        var shown: Breakdown? = nil
        for mode in VerlOptions.lossAggModes {
            options.lossAggMode = mode
            let verl: Breakdown
            do {
                let (verlBatch, config) = try options.lossInputs(given)
                verl = try Vectorized.breakdown(verlBatch, config: config)
            } catch let error as ConfigError { throw CommandError("verl: \(error.message)") } catch let error as BatchError {
                throw CommandError("verl: \(error.message)")
            } catch { throw CommandError("verl: \(error)") }
            let pg = VerlMetrics.metrics(verl, batch: given, options: options).first { $0.name == "actor/pg_loss" }?.value ?? .nan
            table.add([mode.rawValue, Fmt.num(pg, digits: 10), Fmt.num(verl.loss, digits: 10),
                       trlName(mode, width: Int(verl.config.lossScaleFactor ?? 0))])
            if mode == shownMode { shown = verl }
        }
        lines += table.render()
        guard let verl = shown else { return lines }
        options.lossAggMode = shownMode
        var metrics = Table(title: "verl's metrics (\(shownMode.rawValue); token means are sums / (N + 1e-8))",
                            columns: [.text("verl"), .number("value"), .text("TRL's nearest"), .number("TRL")])
        for (name, value) in VerlMetrics.metrics(verl, batch: given, options: options) where name != "actor/pg_loss" && !name.hasPrefix("rollout_corr/") {
            let (trl, trlValue) = nearest(name, b)
            metrics.add([name, Fmt.num(value), trl, trlValue.map { Fmt.num($0) } ?? "-"])
        }
        return lines + [""] + metrics.render() + [""] + lossModeLines(options, given, width: session.lineWidth) + [
            "pg_clipfrac: the min took the clipped term; pg_clipfrac_lower: dual-clip events",
            "(A < 0, held at clip_ratio_c), not low_mean; ppo_kl: mean(old_logp - logp),",
            "clamped to +-20 (vanilla, cispo, dppo); kl_loss: the KL aggregated by",
            "loss_agg_mode (low_var_kl: d clamped to +-20, k3 to [-10, 10]); TRL's: no clamp",
        ]
    }

    /// The batch verl's actor is given, with this session's advantages (so the table compares the
    /// losses alone): a verl file's batch as the file gave it (its rollout correction runs again
    /// on it), or the session's batch with the tokens its loss counts as verl's response mask
    /// (and no sampler log-probs: the session's own correction is TRL's).
    static func verlBatch(_ fileBatch: Batch?, or batch: Batch, _ b: Breakdown) -> Batch {
        var given = fileBatch ?? batch
        var row = 0
        for g in given.groups.indices {
            for i in given.groups[g].completions.indices {
                given.groups[g].completions[i].advantage = b.advantages[row]
                if fileBatch == nil {
                    given.groups[g].completions[i].truncated = false
                    given.groups[g].completions[i].samplerLogp = nil
                    if b.lossMask != nil {
                        given.groups[g].completions[i].mask = (0..<given.groups[g].completions[i].length).map { b.counts(row: row, token: $0) }
                    }
                }
                row += 1
            }
        }
        return given
    }

    /// The batch under every `loss_mode` (the other options as they are): verl's pg_loss, its loss,
    /// and TRL's nearest loss type; a mode that cannot run here says why, under the table.
    static func lossModeLines(_ options: VerlOptions, _ given: Batch, width: Int) -> [String] {
        var table = Table(title: "by loss_mode (\(options.lossAggMode.rawValue))",
                          columns: [.text("loss_mode"), .number("actor/pg_loss"), .number("loss"), .text("TRL's nearest")])
        var reasons: [String] = []
        for mode in VerlOptions.LossMode.allCases {
            var o = options
            o.lossMode = mode
            do {
                let (verlBatch, config) = try o.lossInputs(given)
                let verl = try Vectorized.breakdown(verlBatch, config: config)
                let pg = VerlMetrics.metrics(verl, batch: given, options: o).first { $0.name == "actor/pg_loss" }?.value ?? .nan
                table.add([mode.rawValue, Fmt.num(pg, digits: 8), Fmt.num(verl.loss, digits: 8), trlNearest(mode, options.lossAggMode)])
            } catch {
                table.add([mode.rawValue, "-", "-", trlNearest(mode, options.lossAggMode)])
                let message = (error as? ConfigError)?.message ?? (error as? BatchError)?.message ?? "\(error)"
                reasons += Fmt.indented("\(mode.rawValue): \(message)", width: width)
            }
        }
        return table.render() + (reasons.isEmpty ? [] : ["not computed for this batch:"] + reasons)
    }

    /// The TRL loss type a loss mode is nearest to under `aggregation`, and how it differs.
    static func trlNearest(_ mode: VerlOptions.LossMode, _ aggregation: GRPOConfig.Aggregation) -> String {
        let clipMin: String? = switch aggregation {
        case .tokenMean: "dapo"
        case .sequenceMeanTokenMean: "grpo"
        case .constantNormalizer: "dr_grpo"
        case .sequenceMeanTokenSum: "luspo"
        case .tokenSum, .sequenceMean: nil
        }
        switch mode {
        case .vanilla: return clipMin.map { "\($0) + dual clip" } ?? "(none)"
        case .cispo: return aggregation == .tokenMean ? "cispo (other clip)" : "(none)"
        case .gspo: return clipMin.map { "\($0), sequence level" } ?? "(none)"
        case .sapo: return "sapo"  // its policy term is always seq-mean-token-mean, as TRL's
        case .gpg, .dro, .dppoTV, .dppoKL, .geoMean, .klCov, .clipCov, .bypassMode: return "(none)"
        }
    }

    /// The TRL loss type with the same aggregation (and the divisor it differs by, for -norm).
    static func trlName(_ mode: GRPOConfig.Aggregation, width: Int) -> String {
        switch mode {
        case .tokenMean: "dapo, bnpo"
        case .sequenceMeanTokenMean: "grpo"
        case .constantNormalizer: "dr_grpo, L = \(width)"
        case .sequenceMeanTokenSum: "luspo"
        case .tokenSum, .sequenceMean: "(none)"
        }
    }

    /// TRL's nearest metric to a verl one, and its value on this batch (nil: TRL logs none).
    static func nearest(_ name: String, _ b: Breakdown) -> (String, Double?) {
        switch name {
        case "actor/pg_clipfrac": ("clip_ratio/region_mean", b.metrics.clipRatioRegion)
        case "actor/pg_clipfrac_lower": ("(clip_ratio/low_mean)", b.metrics.clipRatioLow)
        case "actor/kl_loss": ("kl", b.metrics.kl)
        case "actor/kl_coef": ("beta", b.config.beta)
        default: ("-", nil)
        }
    }
}
