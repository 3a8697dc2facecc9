import GRPO

/// `explain` as text: the config, the advantages, one row per token with every quantity, the
/// loss and the metrics, and how closely the naive and vectorized paths agree.
public enum ExplainText {
    /// Tables longer than this show their first rows and a note, unless `showAll`.
    public static let rowLimit = 60

    public static func render(config: GRPOConfig, batch: Batch, naive: Breakdown, vectorized: Breakdown,
                              showAll: Bool) -> String {
        var lines: [String] = []
        lines.append("batch: \(batch.groups.count) group(s) x G = \(batch.groupSize), \(batch.tokenCount) tokens")
        lines.append("config: " + changedSettings(config))
        lines.append("")
        lines += BreakdownView.advantageTable(batch, naive).render()
        lines.append("")
        let title = BreakdownView.lossFormula(config)
        let tokens = BreakdownView.tokenTable(batch, naive, columns: BreakdownView.allColumns(batch, naive), title: title)
        lines += tokens.render(maxRows: showAll ? nil : rowLimit) { "... \($0) more tokens (add --all to see every token)" }
        lines.append("")
        lines.append(BreakdownView.aggregationFormula(config))
        lines.append("loss = \(Fmt.num(naive.loss, digits: 10))")
        lines.append("")
        lines += BreakdownView.metricLines(naive.metrics)
        lines.append("")
        let diff = ExplainJSON.maxAbsDiff(naive, vectorized)
        lines.append("naive vs vectorized: largest |difference| over every quantity = \(Fmt.num(diff, digits: 2))"
                     + (diff <= 1e-9 * max(1, abs(naive.loss)) ? " (they agree)" : " (they DISAGREE: please report this batch)"))
        return lines.joined(separator: "\n")
    }

    /// The options that differ from the defaults, or "defaults (deepseekmath)".
    static func changedSettings(_ config: GRPOConfig) -> String {
        let defaults = Dictionary(uniqueKeysWithValues: GRPOConfig().settings.map { ($0.key, $0.value) })
        let changed = config.settings.filter { defaults[$0.key] != $0.value }.map { "\($0.key)=\($0.value)" }
        return changed.isEmpty ? "defaults (deepseekmath)" : changed.joined(separator: " ")
    }
}

/// Warnings for a loss that is not a finite number, naming the first token responsible, so an
/// infinite loss is reported honestly instead of silently printed.
public enum NonFinite {
    public static func warnings(_ b: Breakdown) -> [String] {
        guard !b.loss.isFinite else { return [] }
        for row in 0..<b.perTokenLoss.rowCount {
            for (t, value) in b.perTokenLoss[row].enumerated() where !value.isFinite {
                let (g, i) = groupAndIndex(row, groupSize: b.advantages.count / max(b.groupMean.count, 1))
                return ["warning: the loss is \(Fmt.num(b.loss)): group \(g), completion \(i), token \(t) has "
                        + "L_t = \(Fmt.num(value)) (ratio \(Fmt.num(b.ratio[row, t])), A = \(Fmt.num(b.advantages[row])))"]
            }
        }
        return ["warning: the loss is \(Fmt.num(b.loss))"]
    }

    static func groupAndIndex(_ row: Int, groupSize: Int) -> (Int, Int) {
        (row / max(groupSize, 1), row % max(groupSize, 1))
    }
}
