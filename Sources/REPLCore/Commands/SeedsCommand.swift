import GRPO
import TinyPolicy

/// `seeds N train M` and `sweep KEY V1,V2,... seeds N train M`: one training experiment repeated
/// over the seeds 1..N, each a new run with the session's options, and what it gives as a mean,
/// a spread and a 95% interval over the runs, so that a claim about training rests on more than
/// one lucky seed. Deterministic for a list of seeds. Lesson 08.
enum SeedsCommand {
    /// What is asked: N seeds, M iterations each, optionally the reward level whose first
    /// crossing is timed (the mean over a window of iterations).
    struct Request {
        var seeds: Int
        var iterations: Int
        var level: Double?
        var window = 10
    }

    /// One run: its seed and one summary per iteration (the mean of its inner updates).
    struct Run {
        var seed: UInt64
        var iterations: [Iteration]
    }

    /// An iteration's numbers: the mean over its inner updates (with mu > 1 the first of them
    /// clips nothing, so `clip` is a share of the iteration's updates).
    struct Iteration: Sendable {
        var reward: Double, length: Double, lengthWrong: Double?, kl: Double, clip: Double?, entropy: Double
    }

    /// `seeds N train M [reach LEVEL [window W]]` after the command word.
    static func parse(_ args: [String], command: String) throws(CommandError) -> Request {
        let usage = "\(command) takes 'seeds N train M', optionally 'reach LEVEL' and 'window W', e.g. '\(command == "seeds" ? "" : "sweep loss_type grpo,dapo ")seeds 8 train 200 reach 0.9'"
        var words = command == "seeds" ? ["seeds"] + args : args
        guard words.count >= 4, words[0] == "seeds", words[2] == "train" else { throw CommandError(usage) }
        var request = Request(seeds: try Args.integer(words[1], "the number of seeds", 2, 100),
                              iterations: try Args.integer(words[3], "the number of iterations", 1, 100_000))
        words.removeFirst(4)
        while !words.isEmpty {
            guard words.count >= 2 else { throw CommandError(usage) }
            switch words[0] {
            case "reach":
                guard let level = Double(decimalText: words[1]), level.isFinite else {
                    throw CommandError("reach takes a reward level, a number, not '\(Interpreter.shorten(words[1]))'")
                }
                request.level = level
            case "window": request.window = try Args.integer(words[1], "window", 1, 10_000)
            default: throw CommandError(usage)
            }
            words.removeFirst(2)
        }
        guard request.seeds * request.iterations <= 400_000 else {
            throw CommandError("\(request.seeds) seeds x \(request.iterations) iterations is more than the 400000 iterations one command runs")
        }
        return request
    }

    /// Runs `request` from `session`'s settings and options: seed s = 1..N each time. Stops at a
    /// run boundary when asked (Ctrl-C): the runs done are kept, and `stopped` says so.
    static func runs(_ session: Session, _ request: Request, label: String = "") throws(CommandError)
        -> (runs: [Run], stopped: String?) {
        try TrainingGuard.check(session.trainer, config: session.config, before: "seeds")
        if let problem = session.verlTrainingProblem(before: "seeds") { throw CommandError(problem) }
        var runs: [Run] = []
        for seed in 1...UInt64(request.seeds) {
            if session.shouldStop() { return (runs, "stopped before seed \(seed): \(runs.count) run(s) done") }
            session.progress?("\(label)seed \(seed)/\(request.seeds): \(request.iterations) iterations")
            var settings = session.trainer.settings
            settings.seed = seed
            var trainer: Trainer
            do throws(ConfigError) { trainer = try Trainer(settings: settings, lossConfig: session.config) } catch {
                throw CommandError(error.message)
            }
            var interrupted = false
            let (_, undone) = TrainingGuard.train(&trainer, iterations: request.iterations, shouldStop: {
                interrupted = interrupted || session.shouldStop()
                return interrupted
            }, onStep: { _ in })
            if interrupted { return (runs, "stopped during seed \(seed): \(runs.count) run(s) done, that one left out") }
            if let undone { throw CommandError("seed \(seed): \(undone)") }
            runs.append(Run(seed: seed, iterations: iterations(trainer.history)))
        }
        session.progress?("")
        return (runs, nil)
    }

    /// A run's steps as one summary per iteration (its inner updates averaged).
    static func iterations(_ history: [StepSummary]) -> [Iteration] {
        Dictionary(grouping: history, by: \.iteration).sorted { $0.key < $1.key }.map { _, steps in
            func mean(_ xs: [Double?]) -> Double? {
                let values = xs.compactMap { $0 }
                return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
            }
            return Iteration(reward: mean(steps.map(\.meanReward))!, length: mean(steps.map(\.meanLength))!,
                             lengthWrong: mean(steps.map(\.meanLengthIncorrect)), kl: mean(steps.map(\.kl))!,
                             clip: mean(steps.map(\.clipRatioRegion)), entropy: mean(steps.map(\.entropy))!)
        }
    }

    /// The iterations a run's end is measured over: the last `window` (at most half the run).
    static func tail(_ run: Run, window: Int) -> ArraySlice<Iteration> {
        run.iterations.suffix(max(1, min(window, run.iterations.count / 2)))
    }

    /// The first iteration (1-based) whose trailing `window` iterations' mean reward reaches
    /// `level`; nil when none does.
    static func reached(_ run: Run, level: Double, window: Int) -> Int? {
        let rewards = run.iterations.map(\.reward)
        guard rewards.count >= window else { return nil }
        for end in (window - 1)..<rewards.count where rewards[(end - window + 1)...end].reduce(0, +) / Double(window) >= level {
            return end + 1
        }
        return nil
    }

    /// The series measured at each run's end.
    static let measures: [(name: String, value: @Sendable (Iteration) -> Double?)] = [
        ("reward", { $0.reward }), ("length", { $0.length }), ("length_wrong", { $0.lengthWrong }),
        ("clip", { $0.clip }), ("kl", { $0.kl }), ("entropy", { $0.entropy }),
    ]

    /// A measure's mean over a run's last iterations; nil when no iteration has it.
    static func endValue(_ run: Run, _ value: (Iteration) -> Double?, window: Int) -> Double? {
        let values = tail(run, window: window).compactMap(value)
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    // MARK: seeds

    static func seeds(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        let request = try parse(args, command: "seeds")
        let (runs, stopped) = try Self.runs(session, request)
        guard runs.count >= 2 else { return [stopped ?? "", "fewer than 2 runs: no spread to show"] }
        let w = max(1, min(request.window, request.iterations / 2))
        var lines = header(session, runs: runs, request: request)
        var table = Table(title: "at the end of each run (the mean of its last \(w) iterations), over the \(runs.count) runs",
                          columns: [.text("series"), .number("mean"), .number("sd"), .text("95% interval"), .number("min"), .number("max")])
        for (name, value) in measures {
            let xs = runs.compactMap { endValue($0, value, window: w) }
            guard xs.count >= 2, let s = SeedStatistics(xs) else { continue }
            table.add([name + (xs.count < runs.count ? " (\(xs.count) runs)" : ""), Fmt.num(s.mean), Fmt.num(s.sd),
                       s.intervalText, Fmt.num(s.min), Fmt.num(s.max)])
        }
        lines += table.render()
        lines += Fmt.wrap("sd: the spread across runs; 95% interval: of the mean over runs (Student's t with \(runs.count - 1) degrees "
                          + "of freedom), where another set of seeds would put it", width: session.lineWidth, indent: "  ")
        if let level = request.level { lines += reachLines(session, runs, level: level, window: request.window) }
        lines.append("")
        var perSeed = Table(title: "each run", columns: [.number("seed"), .number("reward"), .number("length")]
                            + (request.level == nil ? [] : [.text("reaches \(Fmt.num(request.level!)) at")]))
        for run in runs {
            var row = ["\(run.seed)", Fmt.num(endValue(run, { $0.reward }, window: w)!), Fmt.num(endValue(run, { $0.length }, window: w)!)]
            if let level = request.level { row.append(reached(run, level: level, window: request.window).map { "iteration \($0)" } ?? "never") }
            perSeed.add(row)
        }
        lines += perSeed.render()
        lines.append("")
        lines += band(session, runs)
        return lines + (stopped.map { ["", $0] } ?? [])
    }

    /// What was run: the seeds, the length, and the options that differ from the defaults.
    static func header(_ session: Session, runs: [Run], request: Request) -> [String] {
        Fmt.wrap("\(runs.count) runs (seeds 1-\(runs.count)) x \(request.iterations) iterations: "
                 + trainingText(session.trainer.settings) + "; loss: " + ExplainText.changedSettings(session.config),
                 width: session.lineWidth, indent: "  ")
    }

    /// The training options that differ from the defaults (task, prompts and G always), as
    /// "task copy, 4 prompts x G = 8, mu = 1, learning_rate=0.5".
    /// `swept`: the option a sweep varies, which is left out (its values head the table).
    static func trainingText(_ s: TrainingSettings, swept: String? = nil) -> String {
        let defaults = TrainingSettings()
        let shown = ["task", "prompts_per_iteration", "num_generations", "num_iterations", "seed", "max_completion_length"]
        let changed = TrainingSettings.options.filter { !shown.contains($0.key) && $0.key != swept && $0.get(s) != $0.get(defaults) }
            .map { "\($0.key)=\($0.get(s))" }
        var parts = swept == "task" ? [] : ["task \(s.task)"]
        switch swept {
        case "prompts_per_iteration": parts.append("G = \(s.numGenerations)")
        case "num_generations": parts.append("\(s.promptsPerIteration) prompts")
        default: parts.append("\(s.promptsPerIteration) prompts x G = \(s.numGenerations)")
        }
        if swept != "num_iterations" { parts.append("mu = \(s.numIterations)") }
        return (parts + changed).joined(separator: ", ")
    }

    /// When each run first reaches `level`: the iteration and the sampled completions, over the
    /// runs that do.
    static func reachLines(_ session: Session, _ runs: [Run], level: Double, window: Int) -> [String] {
        let at = runs.compactMap { reached($0, level: level, window: window) }.map(Double.init)
        let s = session.trainer.settings
        let perIteration = Double(s.promptsPerIteration * s.numGenerations)
        var line = "reward >= \(Fmt.num(level)) (the mean of \(window) iterations): reached by \(at.count) of \(runs.count) runs"
        if let stats = SeedStatistics(at) {
            line += "; at iteration \(Fmt.num(stats.mean)) on average (sd \(Fmt.num(stats.sd)), 95% \(stats.intervalText)), "
                + "\(Fmt.num(stats.mean * perIteration)) sampled completions"
        } else if let first = at.first {
            line += "; at iteration \(Fmt.num(first))"
        }
        if !at.isEmpty && at.count < runs.count { line += " (the mean is over the runs that reach it: it flatters)" }
        return [""] + Fmt.wrap(line, width: session.lineWidth, indent: "  ")
    }

    /// The mean reward per iteration over the runs, between the lowest and the highest run.
    static func band(_ session: Session, _ runs: [Run]) -> [String] {
        let n = runs.map(\.iterations.count).min() ?? 0
        let at = (0..<n).map { i in runs.map { $0.iterations[i].reward } }
        return Chart.render(title: "mean reward per iteration over \(runs.count) seeds, with the lowest and highest run",
                            // The mean last, so that its marks are drawn over the band's.
                            series: [("lowest", at.map { $0.min()! }), ("highest", at.map { $0.max()! }),
                                     ("mean", at.map { $0.reduce(0, +) / Double($0.count) })],
                            width: 60, height: 9, unicode: session.unicode)
    }

    // MARK: sweep

    static func sweep(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        guard args.count >= 2 else { throw CommandError("sweep takes KEY V1,V2,... then 'seeds N train M', e.g. 'sweep loss_type grpo,dapo seeds 8 train 200'") }
        let (key, apply) = try sweptOption(args[0], session)
        let values = args[1].split(separator: ",").map(String.init)
        guard values.count >= 2, values.count <= 8 else { throw CommandError("sweep takes 2 to 8 values, separated by commas, e.g. grpo,dapo") }
        let request = try parse(Array(args.dropFirst(2)), command: "sweep")
        guard request.seeds * request.iterations * values.count <= 400_000 else {
            throw CommandError("\(values.count) values x \(request.seeds) seeds x \(request.iterations) iterations is more than the 400000 iterations one command runs")
        }
        // Each value on a scratch session, so the learner's own options stay as they are; every
        // value is checked before anything runs.
        var scratches: [(value: String, session: Session)] = []
        for value in values {
            let scratch = Session(projectRoot: session.projectRoot)
            scratch.trainer = session.trainer
            scratch.config = session.config
            scratch.shouldStop = session.shouldStop
            scratch.progress = session.progress
            if session.library == .verl { _ = try scratch.switchLibrary(to: .verl) }
            do { try apply(scratch, value) } catch { throw CommandError("sweep \(key) \(value): \(error.message)") }
            scratches.append((value, scratch))
        }
        var rows: [(value: String, runs: [Run])] = []
        var stopped: String? = nil
        for (value, scratch) in scratches {
            let (runs, halted) = try Self.runs(scratch, request, label: "\(key) \(value), ")
            if let halted {
                stopped = "\(key) \(value): \(halted)"
                break
            }
            rows.append((value, runs))
        }
        let w = max(1, min(request.window, request.iterations / 2))
        let t = session.trainer.settings
        var lines = Fmt.wrap("sweep \(key) over \(rows.map(\.value).joined(separator: ", ")): \(request.seeds) seeds (1-\(request.seeds)) "
                             + "x \(request.iterations) iterations each; " + trainingText(t, swept: key) + "; loss: "
                             + ExplainText.changedSettings(session.config)
                             + (session.setting(named: key)?.scope == .training ? "" : " (\(key) as swept)"), width: session.lineWidth, indent: "  ")
        var table = Table(title: "reward at the end of each run (the mean of its last \(w) iterations)",
                          columns: [.text(key), .number("reward"), .number("sd"), .text("95% interval")])
        // When each run reaches the level: a table of its own, so that each fits 80 columns.
        var reach = Table(title: "when the mean reward over \(request.window) iterations first reaches \(Fmt.num(request.level ?? 0))",
                          columns: [.text(key), .text("reached"), .number("at iteration"), .number("sd"), .number("completions")])
        for (value, runs) in rows {
            guard let s = SeedStatistics(runs.map { endValue($0, { $0.reward }, window: w)! }) else { continue }
            table.add([value, Fmt.num(s.mean), Fmt.num(s.sd), s.intervalText])
            if let level = request.level {
                // Completions sampled per iteration under this value (it may be num_generations itself).
                let settings = scratches.first { $0.value == value }!.session.trainer.settings
                let perIteration = Double(settings.promptsPerIteration * settings.numGenerations)
                let at = runs.compactMap { reached($0, level: level, window: request.window) }.map(Double.init)
                let t = SeedStatistics(at)
                let mean = t?.mean ?? at.first
                reach.add([value, "\(at.count)/\(runs.count)", mean.map { Fmt.num($0) } ?? "-", t.map { Fmt.num($0.sd) } ?? "-",
                           mean.map { Fmt.num($0 * perIteration) } ?? "-"])
            }
        }
        lines += table.render()
        if request.level != nil { lines += [""] + reach.render() }
        // The other series at the runs' end, as mean (sd), three digits each.
        var others = Table(title: "the other series at the end of each run, mean (sd) over the runs",
                           columns: [.text(key)] + measures.dropFirst().map { .text($0.name) })
        for (value, runs) in rows {
            others.add([value] + measures.dropFirst().map { measure in
                let xs = runs.compactMap { endValue($0, measure.value, window: w) }
                guard let s = SeedStatistics(xs) else { return xs.first.map { Fmt.num($0, digits: 3) } ?? "-" }
                return "\(Fmt.num(s.mean, digits: 3)) (\(Fmt.num(s.sd, digits: 2)))"
            })
        }
        lines += [""] + others.render()
        if request.level != nil {
            lines += Fmt.wrap("reached: runs whose mean reward over \(request.window) iterations reaches \(Fmt.num(request.level!)); "
                              + "'at iteration' is over those runs only, 'completions' the ones sampled by then", width: session.lineWidth, indent: "  ")
        }
        if !rows.isEmpty {
            let n = rows.flatMap { $0.runs.map(\.iterations.count) }.min() ?? 0
            let series = rows.map { row in
                (name: "\(key) \(row.value)", values: (0..<n).map { i in row.runs.map { $0.iterations[i].reward }.reduce(0, +) / Double(row.runs.count) })
            }
            lines += [""] + Chart.render(title: "mean reward per iteration, each the mean over \(request.seeds) seeds", series: series,
                                         width: 60, height: 9, unicode: session.unicode)
            lines += againstValues(rows, key: key, window: w, session: session)
        }
        return lines + (stopped.map { ["", $0] } ?? [])
    }

    /// For three or more numeric values (max_staleness 0,4,16, ...): the end reward against the
    /// value, its mean with the lowest and highest run, the values evenly spaced in the order given.
    static func againstValues(_ rows: [(value: String, runs: [Run])], key: String, window w: Int, session: Session) -> [String] {
        guard rows.count >= 3, rows.allSatisfy({ Double(decimalText: $0.value) != nil }) else { return [] }
        let ends = rows.map { row in row.runs.map { endValue($0, { $0.reward }, window: w)! } }
        // Each value twice, so that a value is a short segment rather than a single dot.
        func twice(_ xs: [Double]) -> [Double] { xs.flatMap { [$0, $0] } }
        return [""] + Chart.render(title: "reward at the runs' end against \(key) (\(rows.map(\.value).joined(separator: ", ")), evenly spaced)",
                                   series: [("lowest", twice(ends.map { $0.min()! })), ("highest", twice(ends.map { $0.max()! })),
                                            ("mean", twice(ends.map { $0.reduce(0, +) / Double($0.count) }))],
                                   width: 60, height: 9, unicode: session.unicode,
                                   xEnds: ("\(key) \(rows.first!.value)", rows.last!.value))
    }

    /// What `sweep` varies: a loss or training option (through its setting), or `preset` (each
    /// value a preset's loss options, max_completion_length kept, as `preset` does).
    static func sweptOption(_ name: String, _ session: Session) throws(CommandError)
        -> (key: String, apply: (Session, String) throws(CommandError) -> Void) {
        if name == "preset" {
            guard session.library == .trl else { throw CommandError("sweep preset: presets are TRL's options; 'set library trl' first") }
            return ("preset", { scratch, value throws(CommandError) in
                guard let preset = Preset(rawValue: value) else {
                    throw CommandError("no preset '\(Interpreter.shorten(value))'; presets are \(Preset.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                var config = preset.config
                config.maxCompletionLength = scratch.config.maxCompletionLength
                scratch.config = config
                scratch.trainer.lossConfig = config
            })
        }
        guard let setting = session.setting(named: name), setting.scope != .display else {
            throw CommandError("sweep varies a loss or training option, or preset; '\(Interpreter.shorten(name))' is neither ('config' lists them)")
        }
        guard setting.key != "seed" else { throw CommandError("sweep varies an option over the seeds 1..N; the seed itself is what 'seeds N' varies") }
        return (setting.key, { scratch, value throws(CommandError) in try setting.set(scratch, value) })
    }

    static let all: [Command] = [
        Command("seeds", syntax: "N train M [reach L]",
                summary: "train M iterations from each of the seeds 1..N: the mean, spread and 95% interval of reward, length, length of wrong answers, clip, KL, entropy; "
                    + "reach L times when the mean reward of a window (10, or 'window W') of iterations first reaches L",
                example: "seeds 8 train 200 reach 0.9") { session, args throws(CommandError) in
            try seeds(session, args)
        },
        Command("sweep", syntax: "KEY A,B,... seeds ...",
                summary: "'seeds N train M [reach L]' for each value A, B, ... of one loss or training option (or preset): the end reward and when it reaches L, with spreads",
                example: "sweep loss_type grpo,dapo seeds 8 train 200 reach 0.9", completion: .options) { session, args throws(CommandError) in
            try sweep(session, args)
        },
    ]
}

/// The mean, sample standard deviation, range and 95% interval of the mean (Student's t) of a
/// few runs' numbers; nil for fewer than two.
struct SeedStatistics {
    let mean: Double, sd: Double, min: Double, max: Double, halfWidth: Double

    init?(_ xs: [Double]) {
        guard xs.count >= 2 else { return nil }
        let n = Double(xs.count)
        let m = xs.reduce(0, +) / n
        mean = m
        sd = (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)).squareRoot()
        min = xs.min()!
        max = xs.max()!
        halfWidth = Self.t975(degreesOfFreedom: xs.count - 1) * sd / n.squareRoot()
    }

    var intervalText: String { "[\(Fmt.num(mean - halfWidth)), \(Fmt.num(mean + halfWidth))]" }

    /// Student's t at 0.975 (two-sided 95%) for `df` degrees of freedom: the table's values up
    /// to 30; past it the value at the lower end of each range (30, 40, 60, 120), which errs
    /// towards a wider interval.
    static func t975(degreesOfFreedom df: Int) -> Double {
        let table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                     2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
        if df >= 1 && df <= 30 { return table[df - 1] }
        if df <= 40 { return 2.042 }
        if df <= 60 { return 2.021 }
        if df <= 120 { return 2.000 }
        return 1.980
    }
}
