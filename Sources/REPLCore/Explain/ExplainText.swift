import GRPO

/// `explain` as text: the config, the advantages, one row per token with every quantity, the
/// loss and the metrics, and how closely the naive and vectorized paths agree.
public enum ExplainText {
    /// Tables longer than this show their first rows and a note, unless `showAll`.
    public static let rowLimit = 60

    /// The tables show the naive path's numbers; without it (a big batch), the vectorized path's.
    public static func render(config: GRPOConfig, batch: Batch, naive: Breakdown?, vectorized: Breakdown,
                              logged: LoggedNumbers? = nil, showAll: Bool, preset: Preset = .deepseekmath) -> String {
        render(BatchFile.Contents(config: config, batch: batch, logged: logged), naive: naive, vectorized: vectorized,
               showAll: showAll, preset: preset)
    }

    /// A batch file's contents: TRL's metric names, or verl's for a file with `"verl"` options.
    public static func render(_ contents: BatchFile.Contents, naive: Breakdown?, vectorized: Breakdown,
                              showAll: Bool, preset: Preset = .deepseekmath) -> String {
        let (config, batch, logged) = (contents.config, contents.batch, contents.logged)
        let shown = naive ?? vectorized
        var lines: [String] = []
        lines.append("batch: \(groupsText(batch)), \(batch.tokenCount) tokens")
        if let verl = contents.verl {
            lines.append("verl 0.9.1: " + changedVerlSettings(verl) + "; one mini-batch on one GPU")
            lines.append("as this project's terms: " + changedSettings(config, from: .deepseekmath))
        } else {
            lines.append("config: " + changedSettings(config, from: preset))
        }
        if naive == nil {
            lines.append("vectorized path only: \(batch.tokenCount) tokens is more than the naive path's "
                         + "\(Naive.comfortableTokenCount) (it is the readable specification, slow on purpose); --naive runs it too")
        }
        lines.append("")
        lines += BreakdownView.advantageTable(batch, shown, givenTitle: contents.advantageSource ?? BreakdownView.givenAdvantagesTitle).render(maxRows: showAll ? nil : rowLimit) {
            "... \($0) more completions (add --all to see every completion)"
        }
        lines.append("")
        let title = BreakdownView.lossFormula(config, samplerWeighted: shown.samplerWeight != nil, penalized: batch.hasLogRatioPenalty)
        let tokens = BreakdownView.tokenTable(batch, shown, columns: BreakdownView.allColumns(batch, shown), title: title,
                                              maxRows: showAll ? nil : rowLimit)
        lines += tokens.render(maxRows: showAll ? nil : rowLimit) { "... \($0) more tokens (add --all to see every token)" }
        lines.append("")
        lines.append(BreakdownView.aggregationFormula(config))
        lines.append("loss = \(Fmt.loss(shown))")
        lines.append("")
        if let verl = contents.verl {
            lines += BreakdownView.pairLines(VerlMetrics.metrics(shown, batch: contents.responseBatch ?? batch, options: verl).map { ($0.name, Fmt.num($0.value)) })
        } else {
            lines += BreakdownView.metricLines(shown.metrics)
        }
        lines.append("")
        if let naive {
            let diff = naive.maxDifference(from: vectorized)
            let apart = naive.disagreement(with: vectorized)
            lines.append("naive vs vectorized: largest |difference| over every quantity = \(Fmt.num(diff, digits: 2))"
                         + (apart.map { " (they DISAGREE in \($0.quantity) by \(Fmt.num($0.difference, digits: 2)): please report this batch)" }
                            ?? " (they agree)"))
        }
        if let logged {
            lines.append("")
            lines += logged.lines(contents.ours(shown))
        }
        return lines.joined(separator: "\n")
    }

    /// "2 group(s) x G = 3" when every group has 3 completions, "3 group(s) of 3, 2, 4" (verl's
    /// groups by uid) otherwise.
    static func groupsText(_ batch: Batch) -> String {
        let sizes = batch.groups.map(\.completions.count)
        if Set(sizes).count <= 1 { return "\(sizes.count) group(s) x G = \(sizes.first ?? 0)" }
        return "\(sizes.count) group(s) of \(sizes.map(String.init).joined(separator: ", "))"
    }

    /// The verl options that differ from verl's defaults, or "verl's defaults".
    static func changedVerlSettings(_ options: VerlOptions) -> String {
        let base = Dictionary(uniqueKeysWithValues: VerlOptions().settings.map { ($0.key, $0.value) })
        let changed = options.settings.filter { base[$0.key] != $0.value }.map { "\($0.key)=\($0.value)" }
        return changed.isEmpty ? "verl's defaults" : changed.joined(separator: " ")
    }

    /// The options that differ from the preset's (the defaults unless another preset was named):
    /// "defaults (deepseekmath)", "loss_type=dapo beta=0", "preset trl + loss_type=grpo".
    static func changedSettings(_ config: GRPOConfig, from preset: Preset = .deepseekmath) -> String {
        let base = Dictionary(uniqueKeysWithValues: preset.config.settings.map { ($0.key, $0.value) })
        let changed = config.settings.filter { base[$0.key] != $0.value }.map { "\($0.key)=\($0.value)" }
        if preset == .deepseekmath { return changed.isEmpty ? "defaults (deepseekmath)" : changed.joined(separator: " ") }
        return "preset \(preset.rawValue)" + (changed.isEmpty ? "" : " + " + changed.joined(separator: " "))
    }
}

/// Warnings for a loss that is not a finite number, naming the first token responsible, so an
/// infinite loss is reported honestly instead of silently printed; and for a NaN that a finite
/// loss would hide: an advantage (rewards beyond what a double's mean and std can hold) or a
/// gradient (inf * 0 at a token whose ratio overflowed).
public enum NonFinite {
    public static func warnings(_ b: Breakdown) -> [String] {
        var out: [String] = []
        // One std per group (with scale_rewards=batch possibly a single one): never index past it.
        func std(_ g: Int) -> Double { g < b.groupStd.count ? b.groupStd[g] : (b.groupStd.last ?? 0) }
        func mean(_ g: Int) -> Double { g < b.groupMean.count ? b.groupMean[g] : .nan }
        if let row = b.advantages.firstIndex(where: { !$0.isFinite }) {
            let (g, i) = b.groupAndIndex(row)
            out.append("warning: group \(g), completion \(i) has A = \(Fmt.num(b.advantages[row])): the group's rewards give "
                       + "mean \(Fmt.num(mean(g))) and std \(Fmt.num(std(g))) in doubles")
        } else if let g = b.groupMean.indices.first(where: { mean($0).isInfinite || std($0).isInfinite }) {
            // (A NaN mean or std is a group with too few scored rewards: its A are 0, as in TRL.)
            out.append("warning: group \(g)'s rewards give mean \(Fmt.num(mean(g))) and std \(Fmt.num(std(g))) "
                       + "in doubles, so its advantages are not what the formula gives")
        }
        if !b.loss.isFinite {
            out.append(firstToken(b, b.perTokenLoss).map { row, t in
                let (g, i) = b.groupAndIndex(row)
                return "warning: the loss is \(Fmt.num(b.loss)): group \(g), completion \(i), token \(t) has "
                    + "L_t = \(Fmt.num(b.perTokenLoss[row, t])) (\(terms(b, row, t)))"
            } ?? "warning: the loss is \(Fmt.num(b.loss)), though every L_t is finite: their weighted sum overflows a double")
        }
        // A metric can overflow even when the loss does not (a KL or an entropy summed past the
        // double range): say so, so that --json's null for it is not read as "not computed".
        // (With a loss that is not finite, its own warning above names the token.)
        let overflowed = b.metrics.named.filter { !$0.value.isFinite }
        if b.loss.isFinite && !overflowed.isEmpty {
            out.append("warning: " + overflowed.map { "\($0.name) is \(Fmt.num($0.value))" }.joined(separator: ", ")
                       + ": its inputs give no finite value in doubles (the loss is finite); --json writes null for it")
        }
        if let (row, t) = firstToken(b, b.gradLogp) {
            let (g, i) = b.groupAndIndex(row)
            out.append("warning: d loss / d logp is \(Fmt.num(b.gradLogp[row, t])) at group \(g), completion \(i), token \(t) "
                       + "(\(terms(b, row, t)), the min takes the \(b.branch(row: row, token: t).rawValue) term)"
                       + (b.loss.isFinite ? " although the loss is \(Fmt.num(b.loss))" : ""))
        }
        return out
    }

    /// What a token's L_t is made of: its ratio and advantage, and its KL and sampler weight when
    /// those are on (either can be what overflowed).
    static func terms(_ b: Breakdown, _ row: Int, _ t: Int) -> String {
        var parts = ["ratio \(Fmt.num(b.ratio[row, t]))", "A = \(Fmt.num(b.advantages[row]))"]
        if let kl = b.kl { parts.append("KL = \(Fmt.num(kl[row, t]))") }
        if let w = b.samplerWeight { parts.append("IS weight = \(Fmt.num(w[row, t]))") }
        return parts.joined(separator: ", ")
    }

    /// The first (row, token) where `values` is not finite.
    static func firstToken(_ b: Breakdown, _ values: Ragged<Double>) -> (Int, Int)? {
        for row in 0..<values.rowCount {
            let tokens = values[row]
            if let k = tokens.firstIndex(where: { !$0.isFinite }) { return (row, k - tokens.startIndex) }
        }
        return nil
    }

}
