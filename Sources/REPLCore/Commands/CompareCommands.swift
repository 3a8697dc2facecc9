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

    static func lossTypes(_ session: Session, all: Bool) throws(CommandError) -> [String] {
        let batch = try session.currentBatch()
        let types: [GRPOConfig.LossType] = [.grpo, .dapo, .drGRPO]
        var breakdowns: [Breakdown] = []
        for type in types {
            var c = session.config
            c.lossType = type
            c.maxCompletionLength = max(c.maxCompletionLength, batch.completions.map(\.length).max() ?? 1)
            do { breakdowns.append(try Naive.breakdown(batch, config: c)) } catch {
                throw CommandError("the current batch does not fit the options: \(error.message)")
            }
        }
        var table = Table(title: "who pays for each token: w_t under each loss_type, and d loss / d logp_t",
                          columns: [.number("g"), .number("i"), .number("t"), .number("|o_i|"), .number("A")]
                            + types.map { .number("w " + $0.rawValue) } + types.map { .number("grad " + $0.rawValue) })
        var row = 0
        for (g, group) in batch.groups.enumerated() {
            if g > 0 { table.addGroupBreak() }
            for (i, c) in group.completions.enumerated() {
                for t in 0..<c.length {
                    table.add(["\(g)", "\(i)", "\(t)", "\(c.length)", Fmt.num(breakdowns[0].advantages[row])]
                              + breakdowns.map { Fmt.num($0.weight[row]) } + breakdowns.map { Fmt.num($0.gradLogp[row, t]) })
                }
                row += 1
            }
        }
        let L = breakdowns[2].config.maxCompletionLength
        return session.render(table, all: all, command: "compare loss_type all") + [
            "grpo: 1/(B |o_i|), a short completion's tokens weigh more;  dapo/bnpo: 1/N, every token the same;  "
                + "dr_grpo: 1/(B L), L = \(L)",
        ] + lossLines(zip(types, breakdowns).map { ("loss (\($0.rawValue))", $1.loss) })
    }

    /// "label = value" lines with the = signs and the values' decimal points lined up, the values
    /// to the digits of the 'loss' command.
    static func lossLines(_ entries: [(label: String, loss: Double)]) -> [String] {
        let width = entries.map(\.label.count).max() ?? 0
        let values = Fmt.alignDecimal(entries.map { Fmt.num($0.loss, digits: 10) })
        return zip(entries, values).map { entry, value in
            var line = Substring(entry.label.padding(toLength: width) + " = " + value)
            while line.last == " " { line.removeLast() }
            return String(line)
        }
    }

    static func presets(_ session: Session) throws(CommandError) -> [String] {
        let batch = try session.currentBatch()
        // As the 'preset' command does, max_completion_length stays the session's (dr_grpo divides by it).
        let length = max(session.config.maxCompletionLength, batch.completions.map(\.length).max() ?? 1)
        var table = Table(title: "the same batch under each preset (max_completion_length \(length), as now)",
                          columns: [.text("preset"), .number("loss"), .number("|grad|"), .number("clip_region"), .number("kl")])
        for preset in Preset.allCases {
            var c = preset.config
            c.maxCompletionLength = length
            if !batch.hasReference { c.beta = 0 }
            do {
                let b = try Naive.breakdown(batch, config: c)
                let norm = b.gradLogp.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
                table.add([preset.rawValue, Fmt.num(b.loss), Fmt.num(norm), Fmt.num(b.metrics.clipRatioRegion),
                           b.metrics.kl.map { Fmt.num($0) } ?? "-"])
            } catch {
                table.add([preset.rawValue, "(\(error.message))"])
            }
        }
        return table.render()
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
