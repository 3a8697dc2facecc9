import GRPO
import TinyPolicy

/// `seeds N train M` and `sweep KEY V1,V2,... seeds N train M`: one training experiment repeated
/// over the seeds 1..N, each a new run with the session's options, and what it gives as a mean,
/// a spread and a 95% interval over the runs, so that a claim about training rests on more than
/// one lucky seed. Deterministic for a list of seeds. Lessons 08 and 16.
enum SeedsCommand {
    /// What is asked: N seeds, each run M iterations long or as long as a budget of sampled
    /// completions allows, the series the runs are judged by, optionally the level whose first
    /// crossing is timed (the mean over a window of iterations), and the time model's cost of
    /// sampling a batch.
    struct Request {
        var seeds: Int
        var length: Length
        var level: Double?
        var window = 10
        /// `reward` (the sampled completions') or `expected_reward` (theta's, exact).
        var measure = "reward"
        /// `PipelineClock.generationTime`: sampling a batch takes this many updates' time.
        var generationTime = 3.0

        init(seeds: Int, iterations: Int) {
            self.seeds = seeds
            length = .iterations(iterations)
        }

        /// `train M`, or `budget C`: as many whole iterations as C sampled completions make
        /// (`checkSize` refuses a budget below one iteration).
        enum Length {
            case iterations(Int)
            case budget(Int)
        }

        /// The iterations of one run under `settings` (a budget depends on the batch size).
        func iterations(_ settings: TrainingSettings) -> Int {
            switch length {
            case .iterations(let m): return m
            case .budget(let c): return max(1, c / (settings.promptsPerIteration * settings.numGenerations))
            }
        }

        /// "150 iterations", or "a budget of 4800 sampled completions (150 iterations)"; with one
        /// settings per value swept, each value's iterations.
        func lengthText(_ settings: [TrainingSettings]) -> String {
            let counts = settings.map { "\(iterations($0))" }
            switch length {
            case .iterations(let m): return m == 1 ? "1 iteration" : "\(m) iterations"
            case .budget(let c):
                let used = settings.map { "\(iterations($0) * $0.promptsPerIteration * $0.numGenerations)" }
                let spent = Set(used).count == 1 ? used[0] : used.joined(separator: ", ")
                let runs = Set(counts).count == 1 ? counts[0] : counts.joined(separator: ", ")
                return "a budget of \(c) sampled completions (\(runs) iteration\(counts == ["1"] ? "" : "s")"
                    + (spent == "\(c)" ? ")" : ", \(spent) completions: whole iterations only)")
            }
        }
    }

    /// One run: its seed and one summary per iteration (the mean of its inner updates).
    struct Run {
        var seed: UInt64
        var iterations: [Iteration]
    }

    /// An iteration's numbers: the mean over its inner updates (with mu > 1 the first of them
    /// clips nothing, so `clip` is a share of the iteration's updates); the ratios' range is the
    /// widest over them.
    struct Iteration: Sendable {
        var reward: Double, length: Double, lengthWrong: Double?, kl: Double, clip: Double?, entropy: Double
        var expectedReward: Double? = nil
        var ratioMin = 1.0, ratioMax = 1.0
        /// pi_theta / pi_sampler: the ratio itself when pi_old is the sampler.
        var samplerRatioMin = 1.0, samplerRatioMax = 1.0
    }

    /// `seeds N train M|budget C [reach L] [window W] [measure S] [gen_time T]` after the command word.
    static func parse(_ args: [String], command: String) throws(CommandError) -> Request {
        // Only a sweep compares time: its time table puts the values side by side.
        let timed = command == "sweep"
        let usage = "\(command) takes 'seeds N train M' (or 'budget C' completions), optionally 'reach LEVEL', 'window W', "
            + "'measure reward|expected_reward'\(timed ? " and 'gen_time T'" : ""), e.g. '\(timed ? "sweep loss_type grpo,dapo " : "")seeds 8 train 200 reach 0.9'"
        var words = command == "seeds" ? ["seeds"] + args : args
        guard words.count >= 4, words[0] == "seeds", ["train", "budget"].contains(words[2]) else { throw CommandError(usage) }
        var request = Request(seeds: try Args.integer(words[1], "the number of seeds", 2, 100), iterations: 1)
        if words[2] == "train" {
            request.length = .iterations(try Args.integer(words[3], "the number of iterations", 1, 100_000))
        } else {
            request.length = .budget(try Args.integer(words[3], "budget (sampled completions per run)", 1, 100_000_000))
        }
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
            case "measure":
                guard ["reward", "expected_reward"].contains(words[1]) else {
                    throw CommandError("measure takes reward (the sampled completions') or expected_reward (theta's, exact), not '\(Interpreter.shorten(words[1]))'")
                }
                request.measure = words[1]
            case "gen_time":
                guard timed else {
                    throw CommandError("gen_time is for sweep, whose time table compares the values swept (e.g. 'sweep max_staleness 0,4 seeds 8 budget 3200 gen_time 3'); seeds has no time model")
                }
                guard let t = Double(decimalText: words[1]), t.isFinite, t >= 0, t <= 1_000_000 else {
                    throw CommandError("gen_time takes the time to sample a batch, in updates, a number in [0, 1000000], not '\(Interpreter.shorten(words[1]))'")
                }
                request.generationTime = t
            default: throw CommandError(usage)
            }
            words.removeFirst(2)
        }
        return request
    }

    /// Refuses more than the 400000 iterations one command runs, over `settings` (one per value swept).
    static func checkSize(_ request: Request, _ settings: [TrainingSettings]) throws(CommandError) {
        if request.level != nil, let s = settings.first(where: { request.iterations($0) < request.window }) {
            let n = request.iterations(s)
            throw CommandError("reach averages a window of \(request.window) iterations, longer than the run's \(n): no run could reach; "
                               + "add 'window \(n)' or fewer, or train longer")
        }
        if case .budget(let c) = request.length, let s = settings.first(where: { c < $0.promptsPerIteration * $0.numGenerations }) {
            let batch = s.promptsPerIteration * s.numGenerations
            throw CommandError("budget \(c) is less than one iteration's \(batch) sampled completions "
                               + "(prompts_per_iteration \(s.promptsPerIteration) x num_generations \(s.numGenerations))")
        }
        let total = settings.reduce(0) { $0 + request.seeds * request.iterations($1) }
        guard total <= 400_000 else {
            throw CommandError("\(settings.count > 1 ? "\(settings.count) values x " : "")\(request.seeds) seeds x "
                               + "\(settings.count > 1 ? "their" : "\(request.iterations(settings[0]))") iterations is \(total), "
                               + "more than the 400000 iterations one command runs")
        }
    }

    /// Runs `request` from `session`'s settings and options: seed s = 1..N each time. Stops at a
    /// run boundary when asked (Ctrl-C): the runs done are kept, and `stopped` says so.
    static func runs(_ session: Session, _ request: Request, label: String = "") throws(CommandError)
        -> (runs: [Run], stopped: String?) {
        if let problem = session.verlTrainingProblem(before: "seeds") { throw CommandError(problem) }
        let iterations = request.iterations(session.trainer.settings)
        var runs: [Run] = []
        for seed in 1...UInt64(request.seeds) {
            if session.shouldStop() { return (runs, "stopped before seed \(seed): \(runs.count) run(s) done") }
            session.progress?("\(label)seed \(seed)/\(request.seeds): \(iterations) iterations")
            var settings = session.trainer.settings
            settings.seed = seed
            var trainer: Trainer
            do throws(ConfigError) { trainer = try Trainer(settings: settings, lossConfig: session.config) } catch {
                throw CommandError(error.message)
            }
            var interrupted = false
            do throws(TrainingError) {
                try trainer.train(iterations: iterations, shouldStop: {
                    interrupted = interrupted || session.shouldStop()
                    return interrupted
                })
            } catch {
                throw CommandError("seed \(seed): \(error)")
            }
            if interrupted { return (runs, "stopped during seed \(seed): \(runs.count) run(s) done, that one left out") }
            runs.append(Run(seed: seed, iterations: Self.iterations(trainer.history)))
        }
        session.progress?("")
        return (runs, nil)
    }

    /// The time model of a run with these settings (`PipelineClock`).
    static func clock(_ settings: TrainingSettings, _ request: Request) -> PipelineClock {
        PipelineClock(generationTime: request.generationTime, updatesPerIteration: settings.numIterations,
                      staleness: settings.maxStaleness)
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
                             clip: mean(steps.map(\.clipRatioRegion)), entropy: mean(steps.map(\.entropy))!,
                             expectedReward: mean(steps.map(\.expectedReward)),
                             ratioMin: steps.map(\.ratioMin).min()!, ratioMax: steps.map(\.ratioMax).max()!,
                             samplerRatioMin: steps.map { $0.behaviourRatioMin ?? $0.ratioMin }.min()!,
                             samplerRatioMax: steps.map { $0.behaviourRatioMax ?? $0.ratioMax }.max()!)
        }
    }

    /// The iterations a run's end is measured over: the last `window` (at most half the run).
    static func tail(_ run: Run, window: Int) -> ArraySlice<Iteration> {
        run.iterations.suffix(max(1, min(window, run.iterations.count / 2)))
    }

    /// The first iteration (1-based) whose trailing `window` iterations' mean of `measure`
    /// reaches `level`; nil when none does.
    static func reached(_ run: Run, level: Double, window: Int, measure: String = "reward") -> Int? {
        let value = Self.measure(named: measure)
        let values = run.iterations.map { value($0) ?? -.infinity }
        guard values.count >= window else { return nil }
        for end in (window - 1)..<values.count where values[(end - window + 1)...end].reduce(0, +) / Double(window) >= level {
            return end + 1
        }
        return nil
    }

    /// The series measured at each run's end.
    static let measures: [(name: String, value: @Sendable (Iteration) -> Double?)] = [
        ("reward", { $0.reward }), ("expected_reward", { $0.expectedReward }), ("length", { $0.length }),
        ("length_wrong", { $0.lengthWrong }), ("clip", { $0.clip }), ("kl", { $0.kl }), ("entropy", { $0.entropy }),
        ("ratio_min", { $0.ratioMin }), ("ratio_max", { $0.ratioMax }),
        ("sampler_ratio_min", { $0.samplerRatioMin }), ("sampler_ratio_max", { $0.samplerRatioMax }),
    ]

    static func measure(named name: String) -> @Sendable (Iteration) -> Double? {
        measures.first { $0.name == name }!.value
    }

    /// A measure's mean over a run's last iterations; nil when no iteration has it.
    static func endValue(_ run: Run, _ value: (Iteration) -> Double?, window: Int) -> Double? {
        let values = tail(run, window: window).compactMap(value)
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// What `request.measure` is, in words, for titles.
    static func measureText(_ request: Request) -> String {
        request.measure == "reward" ? "reward" : "E[r] under theta"
    }

    // MARK: seeds

    static func seeds(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        let request = try parse(args, command: "seeds")
        try checkSize(request, [session.trainer.settings])
        let (runs, stopped) = try Self.runs(session, request)
        guard runs.count >= 2 else { return [stopped ?? "", "fewer than 2 runs: no spread to show"] }
        let iterations = request.iterations(session.trainer.settings)
        let w = max(1, min(request.window, iterations / 2))
        var lines = header(session, runs: runs, request: request)
        var table = Table(title: "at the end of each run (the mean of its last \(w) iterations), over the \(runs.count) runs",
                          columns: [.text("series"), .number("mean"), .number("sd"), .text("95% interval"), .number("min"), .number("max")])
        // theta's expected reward and the ratios' range where they tell something new: under a
        // stale sampler, or when theta's reward is the measure (pi/pi_sampler is pi/pi_old when
        // the sampler is pi_old itself).
        let settings = session.trainer.settings
        let asynchronous = settings.maxStaleness > 0 || request.measure == "expected_reward"
        let shown = measures.filter { measure in
            switch measure.name {
            case "expected_reward", "ratio_min", "ratio_max": return asynchronous
            case "sampler_ratio_min", "sampler_ratio_max": return asynchronous && settings.hasSamplerMismatch
            default: return true
            }
        }
        for (name, value) in shown {
            let xs = runs.compactMap { endValue($0, value, window: w) }
            guard xs.count >= 2, let s = SeedStatistics(xs) else { continue }
            table.add([name + (xs.count < runs.count ? " (\(xs.count) runs)" : ""), Fmt.num(s.mean), Fmt.num(s.sd),
                       s.intervalText, Fmt.num(s.min), Fmt.num(s.max)])
        }
        lines += table.render()
        lines += Fmt.wrap("sd: the spread across runs; 95% interval: of the mean over runs (Student's t with \(runs.count - 1) degree\(runs.count == 2 ? "" : "s") "
                          + "of freedom), where another set of seeds would put it"
                          + (asynchronous ? "; expected_reward: theta's own, exact, where reward is the sampled completions'" : ""), width: session.lineWidth, indent: "  ")
        if let level = request.level { lines += reachLines(session, runs, request: request, level: level) }
        lines.append("")
        let value = measure(named: request.measure)
        var perSeed = Table(title: "each run", columns: [.number("seed"), .number(request.measure), .number("length")]
                            + (request.level == nil ? [] : [.text("reaches \(Fmt.num(request.level!)) at")]))
        for run in runs {
            var row = ["\(run.seed)", endValue(run, value, window: w).map { Fmt.num($0) } ?? "-",
                       Fmt.num(endValue(run, { $0.length }, window: w)!)]
            if let level = request.level {
                row.append(reached(run, level: level, window: request.window, measure: request.measure).map { "iteration \($0)" } ?? "never")
            }
            perSeed.add(row)
        }
        lines += perSeed.render()
        lines.append("")
        lines += band(session, runs, request: request)
        return lines + (stopped.map { ["", $0] } ?? [])
    }

    /// What was run: the seeds, the length, and the options that differ from the defaults.
    static func header(_ session: Session, runs: [Run], request: Request) -> [String] {
        Fmt.wrap("\(runs.count) runs (seeds 1-\(runs.count)) x \(request.lengthText([session.trainer.settings])): "
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
    static func reachLines(_ session: Session, _ runs: [Run], request: Request, level: Double) -> [String] {
        let window = request.window
        let at = runs.compactMap { reached($0, level: level, window: window, measure: request.measure) }.map(Double.init)
        let s = session.trainer.settings
        let perIteration = Double(s.promptsPerIteration * s.numGenerations)
        var line = "\(measureText(request)) >= \(Fmt.num(level)) (the mean of \(window) iterations): reached by \(at.count) of \(runs.count) runs"
        if let stats = SeedStatistics(at) {
            line += "; at iteration \(Fmt.num(stats.mean)) on average (sd \(Fmt.num(stats.sd)), 95% \(stats.intervalText)), "
                + "\(Fmt.num(stats.mean * perIteration)) sampled completions"
        } else if let first = at.first {
            line += "; at iteration \(Fmt.num(first))"
        }
        if !at.isEmpty && at.count < runs.count { line += " (the mean is over the runs that reach it: it flatters)" }
        return [""] + Fmt.wrap(line, width: session.lineWidth, indent: "  ")
    }

    /// The measure per iteration over the runs, between the lowest and the highest run.
    static func band(_ session: Session, _ runs: [Run], request: Request) -> [String] {
        let value = measure(named: request.measure)
        let n = runs.map(\.iterations.count).min() ?? 0
        let at = (0..<n).map { i in runs.map { value($0.iterations[i]) ?? .nan } }
        return Chart.render(title: "mean \(measureText(request)) per iteration over \(runs.count) seeds, with the lowest and highest run",
                            // The mean last, so that its marks are drawn over the band's.
                            series: [("lowest", at.map { $0.min()! }), ("highest", at.map { $0.max()! }),
                                     ("mean", at.map { $0.reduce(0, +) / Double($0.count) })],
                            width: 60, height: 9, unicode: session.unicode)
    }

    static let all: [Command] = [
        Command("seeds", syntax: "N train M|budget C [reach L]",
                summary: "train M iterations (or 'budget C' sampled completions) from each of the seeds 1..N: the mean, spread and 95% interval of reward, theta's expected reward, "
                    + "length, length of wrong answers, clip, KL, entropy, the ratios' range; reach L times when the mean of a window (10, or 'window W') of iterations first reaches L "
                    + "('measure expected_reward' judges theta itself)",
                example: "seeds 8 train 200 reach 0.9") { session, args throws(CommandError) in
            try seeds(session, args)
        },
        Command("sweep", syntax: "KEY A,B,... seeds ...",
                summary: "'seeds N train M [reach L]' for each value A, B, ... of one loss or training option (or preset): the end reward and when it reaches L, with spreads; "
                    + "with a stale sampler, a time model too ('gen_time T': sampling a batch takes T updates' time, 3 unless given)",
                example: "sweep loss_type grpo,dapo seeds 8 train 200 reach 0.9", completion: .options) { session, args throws(CommandError) in
            try SweepCommand.sweep(session, args)
        },
    ]
}
