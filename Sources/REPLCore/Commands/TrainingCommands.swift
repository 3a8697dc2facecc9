import GRPO
import TinyPolicy

/// The tiny policy's GRPO loop, one piece at a time: sample a group, update, iterate, train.
enum TrainingCommands {
    /// Runs one trainer call; a `TrainingError` becomes the command's one-line error (the
    /// trainer is unchanged by the call that threw).
    static func training<T>(_ body: () throws(TrainingError) -> T) throws(CommandError) -> T {
        do throws(TrainingError) { return try body() } catch { throw CommandError(error.description) }
    }

    /// A rollout's table and notes; `command` is what the learner typed ('rollout' samples anew,
    /// so its note points at 'batch all' for every row of this batch).
    static func rolloutLines(_ session: Session, _ rollout: Rollout, all: Bool, command: String = "rollout") throws(CommandError) -> [String] {
        let task = session.trainer.task
        let b = try session.breakdown()
        let s = session.trainer.settings
        var lines = ["rollout \(rollout.iteration + 1): \(rollout.prompts.count) prompt(s) x G = \(rollout.groupSize), "
                     + "sampled by \(s.maxStaleness > 0 ? "stale weights" : "theta_old") at temperature "
                     + (session.trainer.settings.samplerTemperature.map { "\(Fmt.num($0)) (the sampler's; scored at \(Fmt.num(rollout.temperature)))" }
                        ?? Fmt.num(rollout.temperature))
                     + (s.samplerPrecision != .exact || s.samplerTemperature != nil ? " (through the mismatched sampler, lesson 09)" : "")]
        let lags = rollout.tokenLag
        var table = Table(columns: [.number("g"), .number("i"), .text("completion"), .number("|o_i|")]
                          + (lags == nil ? [] : [.text("lag")]) + [.number("reward"), .number("A_i")])
        for (k, q) in rollout.prompts.enumerated() {
            if k > 0 { table.addGroupBreak() }
            table.add(["\(k)", "", "prompt \"\(task.prompts[q])\" (answer: \(task.render(task.solution(prompt: q))))"])
            for i in 0..<rollout.groupSize {
                let row = k * rollout.groupSize + i
                let completion = rollout.completions[row]
                var cells = ["\(k)", "\(i)", lags.map { versionMarked(task, completion, lags: $0[row]) } ?? task.render(completion),
                             "\(completion.count)"]
                if let lag = lags?[row] { cells.append(lagRange(lag)) }
                table.add(cells + [Fmt.num(rollout.rewards[row]), Fmt.num(b.advantages[row])])
            }
        }
        // 'rollout all' samples anew: 'batch all' shows every row of this one.
        lines += table.render(maxRows: all ? nil : session.rowLimit) {
            "... \($0) more rows ('batch all' shows every row of this batch; 'set rows N' cuts tables at N rows)"
        }
        let mean = rollout.rewards.reduce(0, +) / Double(rollout.rewards.count)
        lines.append("mean reward \(Fmt.num(mean)); \(Fmt.num((b.metrics.fracRewardZeroStd ?? 0) * 100, digits: 3))% of groups have all rewards equal")
        if let lags = lags?.flatMap({ $0 }), let first = lags.first, let last = lags.last {
            // A stale sampler (asynchronous RL): how far behind theta the weights of each token were.
            lines += Fmt.wrap("stale sampler (max_staleness \(s.maxStaleness)): tokens sampled by weights \(first) to \(last) updates "
                              + "behind theta (mean lag \(Fmt.num(Double(lags.reduce(0, +)) / Double(lags.count)))"
                              + (s.weightUpdateInterval > 0 ? ", newer weights every \(s.weightUpdateInterval) tokens, '|' marks where a completion's weights change" : "")
                              + "); " + (s.oldLogpSource == .sampler ? "old_logp are the sampler's own log-probs (old_logp_source sampler)"
                                         : "old_logp is theta's, sampler_logp each token's own weights'"),
                              width: session.lineWidth, indent: "  ")
        }
        lines.append("next: 'advantages', 'logprobs', 'loss', 'grad' on this batch; 'step' makes one update")
        return lines
    }

    static func summaryLines(_ s: StepSummary, mu: Int) -> [String] {
        var table = Table(columns: [.text("quantity"), .number("value"), .text("note")])
        table.add(["loss", s.lossIsRoundingNoise ? "0" : Fmt.num(s.loss),
                   s.lossIsRoundingNoise ? "within rounding of 0 (\(Fmt.num(s.loss))), before the update" : "on the batch before the update"])
        table.add(["|d loss / d theta|", Fmt.num(s.gradientNorm), ""])
        table.add(["|theta change|", Fmt.num(s.parameterChange), "the size of this update"])
        table.add(["mean reward", Fmt.num(s.meanReward), s.stalenessMax == nil ? "" : "the stale sampler's completions"])
        if let e = s.expectedReward { table.add(["E[r] under theta", Fmt.num(e), "exact, over every prompt"]) }
        if let lag = s.stalenessMean, let most = s.stalenessMax {
            table.add(["sample/staleness_mean", Fmt.num(lag), "behind theta as each completion began (max \(most))"])
            if let perToken = s.tokenLagMean, perToken != lag {
                table.add(["token lag mean", Fmt.num(perToken), "per token: later ones had newer weights"])
            }
        }
        let exactlyOne = s.innerStep == 0 && s.ratioMin == 1 && s.ratioMax == 1
        table.add(["ratio min", Fmt.num(s.ratioMin), exactlyOne ? "first update on this batch: exactly 1" : ""])
        table.add(["ratio max", Fmt.num(s.ratioMax), ""])
        if let lo = s.behaviourRatioMin, let hi = s.behaviourRatioMax {
            table.add(["pi/pi_sampler min", Fmt.num(lo), "against the weights that sampled each token"])
            table.add(["pi/pi_sampler max", Fmt.num(hi), ""])
        }
        table.add(["clip_ratio/region_mean", Fmt.num(s.clipRatioRegion), ""])
        table.add(["kl to theta_ref", Fmt.num(s.kl), ""])
        table.add(["entropy", Fmt.num(s.entropy), ""])
        table.add(["mean length", Fmt.num(s.meanLength), ""])
        if let w = s.samplerWeightMean { table.add(["sampler IS weight mean", Fmt.num(w), ""]) }
        if let d = s.crossCheckDifference { table.add(["naive vs vectorized", Fmt.num(d, digits: 2), "largest difference"]) }
        return ["step \(s.step + 1): iteration \(s.iteration + 1), inner update \(s.innerStep + 1) of \(mu)"] + table.render()
    }

    /// A completion's tokens with '|' where the sampler's weights changed (in-flight updates).
    static func versionMarked(_ task: any RewardTask, _ completion: [Int], lags: [Int]) -> String {
        var words: [String] = []
        for (t, token) in completion.enumerated() {
            if t > 0 && lags[t] != lags[t - 1] { words.append("|") }
            words.append(task.tokens[token])
        }
        return words.joined(separator: " ")
    }

    /// "4", or "4>3" when the completion's tokens came from weights 4, then 3 updates behind.
    static func lagRange(_ lag: [Int]) -> String {
        guard let first = lag.first, let last = lag.last else { return "" }
        return first == last ? "\(first)" : "\(first)>\(last)"
    }

    /// What the run-history commands (chart, history, average, reach) say before any step.
    static let noSteps = "no training steps yet: 'step', 'iterate' or 'train N' make some"

    static func next(_ session: Session) -> String {
        let t = session.trainer
        return t.needsRollout
            ? "next: this batch's \(t.settings.numIterations) update(s) are done; 'step' samples a new batch first"
            : "next: the same batch, rescored by the updated theta: 'ratio' shows theta drifting from theta_old; 'step' updates again"
    }

    /// Charts of the run so far: reward, KL, clip fraction, entropy and mean length per step.
    static func charts(_ session: Session, which: [String], last: Int?) -> [String] {
        let history = session.trainer.history
        guard !history.isEmpty else { return [noSteps] }
        let shown = last.map { Array(history.suffix($0)) } ?? history
        let first = (shown.first?.step ?? 0) + 1
        let series = Self.series.map { (key: $0.key, title: $0.title, values: shown.map($0.value).map { $0 ?? .nan }) }
        let chosen = which.compactMap { key in series.first { $0.key == key } }
        // One label width for all, so that a step sits in the same column in every chart.
        let labelWidth = chosen.map { Chart.labelWidth(of: [($0.key, $0.values)]) }.max() ?? 0
        var lines: [String] = []
        for entry in chosen {
            if !lines.isEmpty { lines.append("") }
            lines += Chart.render(title: "\(entry.title) per step", series: [(entry.key, entry.values)],
                                  width: 60, height: 7, unicode: session.unicode, firstStep: first, labelWidth: labelWidth)
        }
        // More steps than points: Chart draws bucket means but labels the axis with single steps,
        // so a spike's value can sit above every drawn point.
        let points = session.unicode ? 120 : 60
        if shown.count > points, !lines.isEmpty {
            lines.append("(\(shown.count) steps on \(points) points: each point is the mean of its steps; "
                         + "the axis runs from the lowest to the highest single step)")
        }
        return lines
    }

    /// Every per-step series of a run: its name (for `chart`, `average`, `reach`), its title, and
    /// how a step's summary gives it (nil where that step has none).
    static let series: [(key: String, title: String, value: @Sendable (StepSummary) -> Double?)] = [
        ("reward", "mean reward", { $0.meanReward }),
        ("expected_reward", "E[r] under theta (exact, every prompt)", { $0.expectedReward }),
        ("staleness", "sample/staleness_mean (updates behind theta)", { $0.stalenessMean }),
        ("ratio_min", "smallest ratio pi_theta / pi_old", { $0.ratioMin }),
        ("ratio_max", "largest ratio pi_theta / pi_old", { $0.ratioMax }),
        ("sampler_ratio_min", "smallest pi_theta / pi_sampler", { $0.behaviourRatioMin }),
        ("sampler_ratio_max", "largest pi_theta / pi_sampler", { $0.behaviourRatioMax }),
        ("kl", "KL to theta_ref", { $0.kl }),
        ("clip", "clip_ratio/region_mean", { $0.clipRatioRegion }),
        ("cispo_clip", "cispo_clip_ratio", { $0.cispoClipRatio }),
        ("vespo_phi", "vespo/phi_seq_mean", { $0.vespoPhiSeqMean }),
        ("entropy", "entropy", { $0.entropy }),
        ("entropy_coef", "entropy_coef (as applied)", { $0.entropyCoef }),
        ("length", "mean completion length", { $0.meanLength }),
        ("length_correct", "mean length of correct completions (reward 1)", { $0.meanLengthCorrect }),
        ("length_wrong", "mean length of wrong completions (reward < 1)", { $0.meanLengthIncorrect }),
        ("loss", "loss", { $0.loss }),
        ("zero_std", "frac_reward_zero_std", { $0.fracRewardZeroStd }),
        ("grad", "|d loss / d theta|", { $0.gradientNorm }),
    ]

    static var chartNames: [String] { series.map(\.key) }

    /// The charts `train` draws: reward, KL, the objective's own clip metric (TRL logs none for
    /// sapo), entropy (and its coefficient under adaptive control), length.
    static func defaultCharts(_ config: GRPOConfig) -> [String] {
        var clip: [String]
        switch config.objective {
        case .clipMin: clip = ["clip"]
        case .cispo: clip = ["cispo_clip"]
        case .vespo: clip = ["vespo_phi"]
        case .sapo, .reinforce, .dro, .dppoTV, .dppoKL, .geoMean, .unclipped: clip = []
        }
        return ["reward", "kl"] + clip + ["entropy"] + (config.hasEntropyBonus ? ["entropy_coef"] : []) + ["length"]
    }

    static let all: [Command] = [
        Command("tasks", summary: "the tiny policy's tasks and what each shows") { session, args throws(CommandError) in
            try Args.none(args, "tasks")
            // What each task shows goes under what it is: side by side they were 200 columns wide.
            var table = Table(columns: [.text(""), .text("task"), .text("what it is, then what it shows")])
            for task in TaskCatalog.all {
                table.addGroupBreak()
                table.add([task.name == session.trainer.settings.task ? "*" : "", task.name, task.summary])
                table.add(["", "", "shows " + task.shows])
            }
            return table.render() + ["* the current task; 'task NAME' switches (a new run); 'task' shows the current one's prompts"]
        },
        Command("task", syntax: "[NAME]", summary: "show the current task and its prompts, or switch task (a new run)",
                example: "task", completion: .tasks) { session, args throws(CommandError) in
            var lines: [String] = []
            if let name = args.first {
                guard args.count == 1 else { throw CommandError("task takes one name: \(TaskCatalog.names.joined(separator: ", "))") }
                guard let setting = session.setting(named: "task") else { throw CommandError("no task setting") }
                lines.append(try ConfigCommands.change(setting, to: name, in: session))
            }
            let task = session.trainer.task
            var table = Table(title: "task \(task.name): \(task.summary)", columns: [.number("prompt"), .text("text"), .text("correct answer")])
            for (q, p) in task.prompts.enumerated() { table.add(["\(q)", p, task.render(task.solution(prompt: q))]) }
            return lines + table.render() + ["tokens: \(task.tokens.joined(separator: " ")); \(task.shows)"]
        },
        Command("new", syntax: "[SEED]", summary: "a new run: theta = theta_old = theta_ref = uniform, same settings (and seed)",
                example: "new 7") { session, args throws(CommandError) in
            var settings = session.trainer.settings
            if let seed = args.first {
                guard args.count == 1, let n = UInt64(seed) else { throw CommandError("new takes an optional whole-number seed, not '\(args.joined(separator: " "))'") }
                settings.seed = n
            }
            do throws(ConfigError) { session.trainer = try Trainer(settings: settings, lossConfig: session.config) } catch {
                throw CommandError(error.message)
            }
            session.clearBatchIfFromTrainer()
            return ["new run: task \(settings.task), seed \(settings.seed); 'rollout' samples the first batch"]
        },
        Command("rollout", syntax: "[all]", summary: "theta_old <- theta, sample G completions per prompt, score them (starts an iteration)",
                term: "o_i ~ pi_old(. | q), r_i = reward(q, o_i)") { session, args throws(CommandError) in
            try Args.onlyAll(args, "rollout")
            let rollout = try training { () throws(TrainingError) in try session.trainer.rollout() }
            session.showTrainerBatch(origin: "rollout \(rollout.iteration + 1)")
            return try rolloutLines(session, rollout, all: Args.wantsAll(args))
        },
        Command("step", summary: "one optimizer update on the current batch (samples one first when its mu updates are done)",
                term: "theta <- theta - lr * d loss / d theta") { session, args throws(CommandError) in
            try Args.none(args, "step")
            if let problem = session.verlTrainingProblem(before: "step") { throw CommandError(problem) }
            let sampled = session.trainer.needsRollout
            let trace = try training { () throws(TrainingError) in try session.trainer.innerStep() }
            session.showTrainerBatch(origin: "rollout \(trace.rollout.iteration + 1), rescored after step \(trace.summary.step + 1)")
            var lines = sampled ? ["(sampled a new batch first: rollout \(trace.rollout.iteration + 1))"] : []
            lines += summaryLines(trace.summary, mu: session.trainer.settings.numIterations)
            return lines + [next(session)]
        },
        Command("iterate", summary: "one GRPO iteration: rollout, then num_iterations (mu) updates on that batch (or the updates the current batch has left)") { session, args throws(CommandError) in
            try Args.none(args, "iterate")
            if let problem = session.verlTrainingProblem(before: "iterate") { throw CommandError(problem) }
            var traces: [StepTrace] = []
            var stopped: TrainingError? = nil
            do throws(TrainingError) { try session.trainer.train(iterations: 1, onStep: { traces.append($0) }) } catch {
                stopped = error
            }
            if let stopped, traces.isEmpty { throw CommandError(stopped.description) }
            session.showTrainerBatch(origin: "rollout \(traces.last!.rollout.iteration + 1), after its updates")
            var table = Table(title: "iteration \(traces.last!.rollout.iteration + 1): \(traces.count) update(s)",
                              columns: [.number("step"), .number("inner"), .number("loss"), .number("ratio min"), .number("ratio max"),
                                        .number("clip region"), .number("|dloss/dtheta|"), .number("mean reward")])
            for t in traces {
                let s = t.summary
                table.add(["\(s.step + 1)", "\(s.innerStep + 1)", s.lossCell, Fmt.num(s.ratioMin), Fmt.num(s.ratioMax),
                           Fmt.num(s.clipRatioRegion), Fmt.num(s.gradientNorm), Fmt.num(s.meanReward)])
            }
            return table.render() + StepSummary.roundingNote(traces.map(\.summary)) + (stopped.map { ["stopped: \($0)"] } ?? [])
        },
        Command("train", syntax: "N", summary: "N iterations with a progress line, then charts of reward, KL, clip fraction, entropy, length",
                example: "train 50") { session, args throws(CommandError) in
            guard args.count == 1 else { throw CommandError("train takes a number of iterations, e.g. 'train 200'") }
            let n = try Args.integer(args[0], "the number of iterations", 1, 100_000)
            if let problem = session.verlTrainingProblem(before: "train") { throw CommandError(problem) }
            let before = session.trainer.history.count
            var done = 0
            let every = max(1, n / 100)
            let mu = session.trainer.settings.numIterations
            // In place: a copy of the trainer would copy its whole history at the first append.
            // The closures read other properties of the session, never the trainer.
            var stopped: TrainingError? = nil
            do throws(TrainingError) {
                try session.trainer.train(iterations: n, shouldStop: session.shouldStop, onStep: { trace in
                    guard trace.summary.innerStep + 1 == mu else { return }
                    done += 1
                    if done % every == 0 || done == n {
                        session.progress?("train: iteration \(done)/\(n), mean reward \(Fmt.num(trace.summary.meanReward))")
                    }
                })
            } catch {
                stopped = error
            }
            let steps = session.trainer.history.count - before
            session.progress?("")
            if let stopped, steps == 0 { throw CommandError(stopped.description) }
            session.showTrainerBatch(origin: "rollout \(session.trainer.iterationCount), after training")
            let history = session.trainer.history
            let run = Array(history[before...])
            let window = max(1, min(10, run.count / 2))
            func mean(_ xs: ArraySlice<StepSummary>) -> Double { xs.map(\.meanReward).reduce(0, +) / Double(max(xs.count, 1)) }
            var lines: [String] = []
            if let stopped {
                lines.append("stopped: \(stopped)")
            } else if steps < n * mu && session.shouldStop() {
                lines.append("stopped at a step boundary: \(steps) update(s) kept")
            }
            let settings = session.trainer.settings
            let rollouts = Set(run.map(\.iteration)).count
            let span = run.first.map { "steps \($0.step + 1)-\(run[run.count - 1].step + 1)" } ?? "no steps"
            lines.append("trained: \(steps) update(s), \(span), on \(rollouts) rollout(s) = "
                         + "\(rollouts * settings.promptsPerIteration * settings.numGenerations) sampled completions")
            lines.append("mean reward \(Fmt.num(mean(run.prefix(window)))) (first \(window) steps) -> "
                         + "\(Fmt.num(mean(run.suffix(window)))) (last \(window) steps)")
            return lines + [""] + charts(session, which: defaultCharts(session.trainer.lossConfig), last: nil)
        },
        Command("chart", aliases: ["plot"], syntax: "[NAME...|all] [last N]",
                summary: "charts of the run so far, per step: " + chartNames.joined(separator: ", "), example: "chart reward",
                completion: .words(chartNames + ["all", "last"])) { session, args throws(CommandError) in
            var which: [String] = []
            var last: Int? = nil
            var k = 0
            while k < args.count {
                let a = args[k]
                if a == "last" {
                    guard k + 1 < args.count else { throw CommandError("last needs a number of steps, e.g. 'chart reward last 50'") }
                    last = try Args.integer(args[k + 1], "last", 1, 10_000_000)
                    k += 2
                    continue
                }
                if a == "all" { which = chartNames } else if chartNames.contains(a) { which.append(a) } else {
                    throw CommandError("chart takes \(chartNames.joined(separator: ", ")) or all, not '\(Interpreter.shorten(a))'")
                }
                k += 1
            }
            return charts(session, which: which.isEmpty ? defaultCharts(session.trainer.lossConfig) : which, last: last)
        },
        Command("history", syntax: "[N]", summary: "the last N steps' numbers (default 10)", example: "history 5") { session, args throws(CommandError) in
            guard args.count <= 1 else { throw CommandError("history takes at most one number of steps, e.g. 'history 20'") }
            let n = try args.first.map { (a: String) throws(CommandError) -> Int in try Args.integer(a, "the number of steps", 1, 10_000_000) } ?? 10
            let shown = session.trainer.history.suffix(n)
            guard !shown.isEmpty else { return [noSteps] }
            var table = Table(columns: [.number("step"), .number("iter"), .number("inner"), .number("loss"), .number("reward"),
                                        .number("kl"), .number("clip region"), .number("entropy"), .number("length"), .number("|dloss/dtheta|")])
            for s in shown {
                table.add(["\(s.step + 1)", "\(s.iteration + 1)", "\(s.innerStep + 1)", s.lossCell, Fmt.num(s.meanReward),
                           Fmt.num(s.kl), Fmt.num(s.clipRatioRegion), Fmt.num(s.entropy), Fmt.num(s.meanLength), Fmt.num(s.gradientNorm)])
            }
            return table.render() + StepSummary.roundingNote(shown)
        },
        Command("policy", syntax: "[PROMPT]", summary: "the policy's most likely answer per prompt, or the two logit tables behind one prompt's answers",
                example: "policy 0") { session, args throws(CommandError) in
            let trainer = session.trainer
            let task = trainer.task
            let policy = trainer.policy
            if let a = args.first {
                let q = try Args.integer(a, "the prompt number", 0, task.prompts.count - 1)
                // A logit is the sum of two tables' entries: this prompt's row for the position, and the
                // row for the previous token (shared by every prompt). Both are shown.
                var byPosition = Table(title: "this prompt's table: one row per position, one column per next token",
                                       columns: [.number("position \\ next")] + task.tokens.map { .number($0) })
                for (t, row) in policy.promptPositionTable(prompt: q).enumerated() { byPosition.add(["\(t)"] + row.map { Fmt.num($0) }) }
                var byPrevious = Table(title: "the table shared by every prompt: one row per previous token (start: position 0)",
                                       columns: [.text("previous \\ next")] + task.tokens.map { .number($0) })
                let previous = policy.previousTable
                byPrevious.add(["start"] + previous[policy.startRow].map { Fmt.num($0) })
                // No row for <eos>: nothing is generated after it.
                for v in task.tokens.indices where v != task.endToken { byPrevious.add([task.tokens[v]] + previous[v].map { Fmt.num($0) }) }
                return ["theta for prompt \(q) \"\(task.prompts[q])\": logit(next | position, previous) = this prompt's [position][next] + shared [previous][next]"]
                    + byPosition.render() + [""] + byPrevious.render()
            }
            var table = Table(title: "most likely completion under theta (greedy), per prompt",
                              columns: [.number("prompt"), .text("text"), .text("greedy answer"), .number("probability"), .number("reward")])
            for q in task.prompts.indices {
                let best = policy.mostLikely(prompt: q, endToken: task.endToken, maxLength: trainer.settings.maxCompletionLength)
                table.add(["\(q)", task.prompts[q], task.render(best.tokens), Fmt.num(best.probability),
                           Fmt.num(task.reward(prompt: q, completion: best.tokens))])
            }
            return table.render()
        },
        Command("reference", summary: "theta_ref <- theta: re-anchor the KL term at the current policy") { session, args throws(CommandError) in
            try Args.none(args, "reference")
            session.trainer.resetReference()
            if session.batchIsTrainers { session.showTrainerBatch(origin: session.batchOrigin) }
            return ["theta_ref <- theta: KL to the reference is now 0 for the current policy"]
        },
    ]
}
