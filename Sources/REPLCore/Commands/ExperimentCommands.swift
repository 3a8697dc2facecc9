import GRPO
import TinyPolicy

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small commands that lessons 07-12 use to run one experiment (added with those lessons):
/// averages of a run over a window of steps (`average`), when a run first reaches a level
/// (`reach`), the forking-token threshold worked out (`forking`), and the sampler/trainer
/// correction under each of TRL's four modes (`mismatch`).
enum ExperimentCommands {
    /// The per-step series of a run, by the names `chart` uses.
    static let seriesNames = TrainingCommands.chartNames

    static func value(_ s: StepSummary, _ name: String) -> Double? {
        TrainingCommands.series.first { $0.key == name }?.value(s) ?? nil
    }

    static func seriesName(_ word: String) throws(CommandError) -> String {
        guard seriesNames.contains(word) else {
            throw CommandError("'\(Interpreter.shorten(word))' is not a series; series are \(seriesNames.joined(separator: ", "))")
        }
        return word
    }

    /// Completions sampled by `rollouts` rollouts under the current settings.
    static func sampled(_ session: Session, rollouts: Int) -> Int {
        let s = session.trainer.settings
        return rollouts * s.promptsPerIteration * s.numGenerations
    }

    // MARK: average

    static func average(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        var names: [String] = []
        var from = 1
        var to: Int? = nil
        var k = 0
        while k < args.count {
            let word = args[k]
            if word == "from" || word == "to" {
                guard k + 1 < args.count else { throw CommandError("\(word) needs a step number, e.g. 'average length_wrong from 50 to 300'") }
                let n = try Args.integer(args[k + 1], word, 1, 10_000_000)
                if word == "from" { from = n } else { to = n }
                k += 2
                continue
            }
            names.append(try seriesName(word))
            k += 1
        }
        if names.isEmpty { names = ["reward", "length", "length_correct", "length_wrong", "clip"] }
        if let to, from > to { throw CommandError("from \(from) is after to \(to): 'from A to B' needs A <= B") }
        let history = session.trainer.history
        guard !history.isEmpty else { return [TrainingCommands.noSteps] }
        // Steps by number: a loaded session's history can start after step 1 (`save` keeps the last ones).
        let lastStep = history[history.count - 1].step + 1
        let last = min(to ?? lastStep, lastStep)
        guard from <= last else { throw CommandError("from \(from) is after the last step (\(lastStep))") }
        let window = history.filter { $0.step + 1 >= from && $0.step + 1 <= last }
        guard !window.isEmpty else {
            throw CommandError("steps \(from)-\(last) are not in the history, which starts at step \(history[0].step + 1)")
        }
        let rollouts = Set(window.map(\.iteration)).count
        var table = Table(columns: [.text("series"), .number("mean over the steps"), .number("steps with a value")])
        for name in names {
            let values = window.compactMap { value($0, name) }.filter(\.isFinite)
            let mean = values.isEmpty ? Double.nan : values.reduce(0, +) / Double(values.count)
            // The mean of losses that are each rounding noise is noise too.
            let noise = name == "loss" && !values.isEmpty && mean != 0 && window.allSatisfy { $0.loss == 0 || $0.lossIsRoundingNoise }
            table.add([name, values.isEmpty ? "-" : noise ? "0*" : Fmt.num(mean), "\(values.count)"])
        }
        return ["steps \(window[0].step + 1)-\(last) of \(lastStep): \(window.count) update(s) on \(rollouts) rollout(s) = "
                + "\(sampled(session, rollouts: rollouts)) sampled completions"] + table.render()
            + (names.contains("loss") ? StepSummary.roundingNote(window.allSatisfy { $0.loss == 0 || $0.lossIsRoundingNoise } ? window : []) : [])
    }

    // MARK: reach

    static func reach(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        guard args.count == 2 || (args.count == 4 && args[2] == "window") else {
            throw CommandError("reach takes a series and a level, e.g. 'reach reward 0.9' (optionally 'window N')")
        }
        let name = try seriesName(args[0])
        guard let level = Double(decimalText: args[1]), level.isFinite else { throw CommandError("the level must be a number, not '\(args[1])'") }
        let width = args.count == 4 ? try Args.integer(args[3], "window", 1, 10_000) : 10
        let history = session.trainer.history
        guard !history.isEmpty else { return [TrainingCommands.noSteps] }
        var best = -Double.infinity
        for end in history.indices {
            let values = history[max(0, end - width + 1)...end].compactMap { value($0, name) }.filter(\.isFinite)
            guard end + 1 >= width, !values.isEmpty else { continue }
            let mean = values.reduce(0, +) / Double(values.count)
            best = max(best, mean)
            if mean >= level {
                let s = history[end]
                let rollouts = s.iteration - history[0].iteration + 1
                return ["\(name): the mean of the last \(width) steps first reaches \(Fmt.num(level)) at step \(s.step + 1) "
                        + "(iteration \(s.iteration + 1)), after \(rollouts) rollout(s) = \(sampled(session, rollouts: rollouts)) sampled completions"]
            }
        }
        return ["\(name): the mean of \(width) steps never reaches \(Fmt.num(level)) in these \(history.count) steps"
                + (best.isFinite ? " (highest: \(Fmt.num(best)))" : "")]
    }

    // MARK: forking

    static func forking(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        guard args.count <= 1 else { throw CommandError("forking takes at most one number, the share of tokens to keep (e.g. 0.2)") }
        var rho = session.config.topEntropyQuantile
        if let word = args.first {
            guard let x = Double(decimalText: word), x >= 0, x <= 1 else { throw CommandError("the share to keep must be a number in [0, 1], not '\(word)'") }
            rho = x
        }
        let batch = try session.currentBatch()
        guard batch.hasEntropy else { throw CommandError("this batch has no entropies, so there are no forking tokens to pick") }
        let entropies = batch.completions.map { $0.entropy! }
        let sorted = entropies.flatMap { $0 }.map { Double(Float($0)) }.sorted()
        let n = sorted.count
        guard n > 0 else { return ["this batch has no tokens"] }
        // The loss computes no threshold at 1 (as TRL): every token keeps its policy term.
        guard rho < 1 else {
            return ["rho = 1 is top_entropy_quantile off (its default): the loss computes no threshold, all \(n) tokens of the batch keep their policy term",
                    "'forking 0.2' works out the threshold that keeps the top 20% of this batch's token entropies"]
        }
        let counted = batch.completions.map { Naive.lossMask($0, config: session.config) }
        let threshold = Naive.entropyThreshold(entropies: entropies, counted: counted, topQuantile: rho,
                                               rank: session.config.entropyQuantileRank)
        let position = (1 - rho) * Double(n - 1)
        let below = Int(position.rounded(.down)), above = min(below + 1, n - 1)
        let shown = n <= 40 ? sorted.map { Fmt.num($0) }.joined(separator: " ")
            : sorted.prefix(20).map { Fmt.num($0) }.joined(separator: " ") + " ... " + sorted.suffix(10).map { Fmt.num($0) }.joined(separator: " ")
        var lines = [
            "keep the policy term on the top rho = \(Fmt.num(rho)) of the batch's \(n) token entropies (torch.quantile, linear, float32):",
            "  sorted: \(shown)",
            "  position (1 - rho)(n - 1) = \(Fmt.num(1 - rho)) x \(n - 1) = \(Fmt.num(position)): "
                + "between sorted[\(below)] = \(Fmt.num(sorted[below])) and sorted[\(above)] = \(Fmt.num(sorted[above]))",
            "  threshold = \(Fmt.num(sorted[below])) + \(Fmt.num(position - Double(below))) x (\(Fmt.num(sorted[above])) - \(Fmt.num(sorted[below]))) = \(Fmt.num(threshold, digits: 6))",
        ]
        var table = Table(title: "per completion: tokens with entropy >= threshold keep the policy term (the KL term stays on every token)",
                          columns: [.number("g"), .number("i"), .number("|o_i|"), .number("kept"), .text("kept tokens (t: entropy)")])
        var kept = 0
        for (g, group) in batch.groups.enumerated() {
            if g > 0 { table.addGroupBreak() }
            for (i, c) in group.completions.enumerated() {
                let keep = c.entropy!.enumerated().filter { Naive.entropyMask(entropy: $0.element, threshold: threshold) }
                kept += keep.count
                table.add(["\(g)", "\(i)", "\(c.length)", "\(keep.count)",
                           keep.map { "\($0.offset): \(Fmt.num($0.element))" }.joined(separator: ", ")])
            }
        }
        lines += session.render(table, all: true, command: "forking")
        lines.append("kept: \(kept) of \(n) tokens (\(Fmt.num(100 * Double(kept) / Double(n), digits: 3))%); "
                     + "'set top_entropy_quantile \(Fmt.num(rho))' applies it to the loss")
        return lines
    }

    // MARK: mismatch

    static let modes = GRPOConfig.SamplerCorrectionMode.allCases

    /// Why a batch without sampler_logp has nothing for `mismatch` to show: pi_old sampled it, or
    /// old_logp already is the (stale or mismatched) sampler's own.
    static func noSamplerLines(_ session: Session) -> [String] {
        let settings = session.trainer.settings
        if settings.hasSamplerMismatch && settings.oldLogpSource == .sampler {
            return ["this batch has no sampler_logp: with 'old_logp_source sampler' its old_logp already is the sampler's, so the ratio",
                    "is taken against the sampler itself and there is no weight to correct with (lesson 16); 'set old_logp_source trainer' rescores instead"]
        }
        return ["this batch has no sampler_logp: pi_old sampled it itself, so there is nothing to correct (every weight is 1).",
                "'set sampler_precision bfloat16' or 'set sampler_temperature 1.2', then 'rollout', makes a batch that has them (lesson 09)"]
    }

    static func mismatch(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        try Args.none(args, "mismatch")
        let batch = try session.currentBatch()
        guard batch.hasSampler else { return noSamplerLines(session) }
        let config = session.config
        // The mode in use first: on a narrow terminal the columns on the right are left out first.
        let modes = [config.vllmImportanceSamplingMode] + Self.modes.filter { $0 != config.vllmImportanceSamplingMode }
        var everyRhoIsOne = true
        let bounds = "[\(config.vllmImportanceSamplingClipMin.map { Fmt.num($0) } ?? "none"), \(config.vllmImportanceSamplingClipMax.map { Fmt.num($0) } ?? "none")]"
        var table = Table(title: "rho_t = exp(old_logp - sampler_logp); rho = exp(sum_t (old_logp - sampler_logp)); bounds \(bounds)",
                          columns: [.number("g"), .number("i"), .number("|o_i|"), .number("rho_t min"), .number("rho_t max"), .number("rho")]
                            + modes.map { .number($0.rawValue) })
        var dropped = [Int](repeating: 0, count: modes.count)
        var sums = [Double](repeating: 0, count: modes.count)
        for (g, group) in batch.groups.enumerated() {
            if g > 0 { table.addGroupBreak() }
            for (i, c) in group.completions.enumerated() {
                let sampler = c.samplerLogp!
                let rhos = c.oldLogp.indices.map { exp(c.oldLogp[$0] - sampler[$0]) }
                let logRho = c.oldLogp.indices.reduce(0.0) { $0 + c.oldLogp[$1] - sampler[$1] }
                everyRhoIsOne = everyRhoIsOne && rhos.allSatisfy { $0 == 1 }
                var cells = ["\(g)", "\(i)", "\(c.length)", rhos.min().map { Fmt.num($0) } ?? "-",
                             rhos.max().map { Fmt.num($0) } ?? "-", Fmt.num(exp(logRho))]
                for (m, mode) in modes.enumerated() {
                    var modeConfig = config
                    modeConfig.vllmImportanceSamplingMode = mode
                    let w = Naive.samplerWeights(oldLogp: c.oldLogp, samplerLogp: sampler,
                                                 counted: Naive.lossMask(c, config: config), config: modeConfig)
                    dropped[m] += w.filter { $0 == 0 }.count
                    sums[m] += w.reduce(0, +)
                    switch mode {
                    case .sequenceTruncate, .sequenceMask: cells.append(w.first.map { Fmt.num($0) } ?? "-")
                    case .tokenTruncate, .tokenMask:
                        let zeros = w.filter { $0 == 0 }.count
                        cells.append(w.isEmpty ? "-" : "mean \(Fmt.num(w.reduce(0, +) / Double(w.count)))" + (zeros > 0 ? ", \(zeros) zeroed" : ""))
                    }
                }
                table.add(cells)
            }
        }
        var lines = session.render(table, all: true, command: "mismatch")
        let n = max(batch.tokenCount, 1)
        for (m, mode) in modes.enumerated() {
            lines.append("\(mode.rawValue.padding(toLength: 17)) mean weight \(Fmt.num(sums[m] / Double(n))), "
                         + "\(dropped[m]) of \(batch.tokenCount) tokens get weight 0"
                         + (mode == config.vllmImportanceSamplingMode ? "   <- vllm_importance_sampling_mode" : ""))
        }
        if !config.vllmImportanceSamplingCorrection {
            lines.append("vllm_importance_sampling_correction is false: the loss uses none of these weights")
        }
        if everyRhoIsOne {
            lines += Fmt.wrap("every rho is exactly 1: the sampler's numbers are pi_old's on this batch (a fresh policy's logits are all 0, "
                              + "which every precision holds exactly); 'train 10' then 'rollout' makes them differ", width: session.lineWidth, indent: "  ")
        }
        return lines
    }

    // MARK: gradcheck

    /// The batch with one token's logp moved by `shift` (row = completion index, group after group).
    static func moved(_ batch: Batch, row: Int, token: Int, shift: Double) -> Batch {
        var copy = batch
        var k = row
        for g in copy.groups.indices {
            if k < copy.groups[g].completions.count {
                copy.groups[g].completions[k].logp[token] += shift
                break
            }
            k -= copy.groups[g].completions.count
        }
        return copy
    }

    static func gradcheck(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        try Args.onlyAll(args, "gradcheck")
        let (batch, config) = try session.lossInputs()
        let (naive, vectorized) = try session.bothBreakdowns()
        let h = 1e-6
        var kinks = [1 - config.epsilon, 1 + config.resolvedEpsilonHigh]
        if let delta = config.delta { kinks.append(delta) }
        let nearKink = { (r: Double) in kinks.contains { abs(r - $0) < 1e-4 } }
        var table = Table(title: "d loss / d logp_t three ways: finite diff = (loss(logp_t + h) - loss(logp_t - h)) / 2h, h = 1e-6; "
                          + "naive = Scalar autodiff; vectorized = by hand",
                          columns: [.number("g"), .number("i"), .number("t"), .number("ratio"), .number("finite diff"),
                                    .number("naive"), .number("vectorized")])
        var worstNaive = 0.0, worstVectorized = 0.0, skipped = 0, row = 0, checked = 0
        var stopped = false
        // Two full loss evaluations per token: check a bounded number, and stop on Ctrl-C.
        let limit = 400
        rows: for (g, group) in batch.groups.enumerated() {
            if g > 0 { table.addGroupBreak() }
            for (i, c) in group.completions.enumerated() {
                let rowNearKink = naive.ratio[row].contains(where: nearKink)
                for t in 0..<c.length {
                    if checked == limit { break rows }
                    if session.shouldStop() { stopped = true; break rows }
                    checked += 1
                    let skip = config.importanceSamplingLevel == .sequence ? rowNearKink : nearKink(naive.ratio[row, t])
                    var numeric = "at a kink"
                    if skip {
                        skipped += 1
                    } else {
                        // The loss value alone, from the kernel: the two paths' losses agree to 1e-16
                        // relative, far below what h = 1e-6 resolves, and the naive path would take a
                        // minute on a big rollout.
                        let up: Double, down: Double
                        do {
                            up = try Vectorized.breakdown(moved(batch, row: row, token: t, shift: h), config: config).loss
                            down = try Vectorized.breakdown(moved(batch, row: row, token: t, shift: -h), config: config).loss
                        } catch { throw CommandError("the current batch does not fit the options: \(error.message)") }
                        let d = (up - down) / (2 * h)
                        // A NaN anywhere is the worst possible disagreement (max would skip it).
                        func gap(_ x: Double) -> Double { let e = abs(x - d); return e.isNaN ? .infinity : e }
                        worstNaive = max(worstNaive, gap(naive.gradLogp[row, t]))
                        worstVectorized = max(worstVectorized, gap(vectorized.gradLogp[row, t]))
                        numeric = Fmt.num(d)
                    }
                    table.add(["\(g)", "\(i)", "\(t)", Fmt.num(naive.ratio[row, t]), numeric,
                               Fmt.num(naive.gradLogp[row, t]), Fmt.num(vectorized.gradLogp[row, t])])
                }
                row += 1
            }
        }
        var lines = session.render(table, all: Args.wantsAll(args), command: "gradcheck")
        let tolerance = 1e-6
        lines.append("largest |naive - finite diff| = \(Fmt.num(worstNaive, digits: 2)), "
                     + "largest |vectorized - finite diff| = \(Fmt.num(worstVectorized, digits: 2)): "
                     + (max(worstNaive, worstVectorized) <= tolerance ? "both within 1e-6" : "NOT within 1e-6"))
        if skipped > 0 {
            lines.append("\(skipped) token(s) skipped: the ratio sits within 1e-4 of a clip end or delta, where the slope jumps and no derivative exists")
        }
        if checked < batch.tokenCount {
            lines.append("checked the first \(checked) of \(batch.tokenCount) tokens" + (stopped ? " (stopped)" : " (at most \(limit): two losses per token)"))
        }
        return lines
    }

    static let all: [Command] = [
        Command("average", syntax: "[SERIES...] [from A] [to B]",
                summary: "mean of a run's per-step series over steps A-B (the names of 'chart'), and the completions sampled",
                example: "average reward kl from 11 to 20", completion: .words(seriesNames + ["from", "to"])) { session, args throws(CommandError) in
            try average(session, args)
        },
        Command("reach", syntax: "SERIES LEVEL [window N]",
                summary: "the first step at which the mean of the last N (10) steps of a series reaches LEVEL, and the completions sampled by then",
                example: "reach reward 0.9", completion: .words(seriesNames)) { session, args throws(CommandError) in
            try reach(session, args)
        },
        Command("forking", syntax: "[RHO]",
                summary: "the top_entropy_quantile threshold on the current batch worked out, and which tokens keep the policy term",
                term: "keep token t if entropy_t >= quantile(entropies, 1 - rho)", example: "forking 0.2") { session, args throws(CommandError) in
            try forking(session, args)
        },
        Command("mismatch", summary: "the sampler/trainer weights of the current batch under each vllm_importance_sampling_mode",
                term: "rho_t = exp(old_logp - sampler_logp), clamped into or masked outside [C_min, C_max]") { session, args throws(CommandError) in
            try mismatch(session, args)
        },
        Command("gradcheck", syntax: "[all]",
                summary: "d loss / d logp of both paths against central finite differences of the naive loss, token by token",
                term: "(loss(logp_t + h) - loss(logp_t - h)) / 2h") { session, args throws(CommandError) in
            try gradcheck(session, args)
        },
        Command("verl", summary: "the current batch as verl 0.9.1's actor computes it, under each loss_agg_mode, with verl's metric names",
                term: "loss = agg(pg_loss) + kl_loss_coef * agg(low_var_kl); pg_clipfrac, pg_clipfrac_lower, ppo_kl") { session, args throws(CommandError) in
            try VerlCommand.run(session, args)
        },
    ]
}
