import GRPO
import TinyPolicy

/// `sweep KEY A,B,... seeds N train M|budget C ...`: `seeds` for each value of one loss or
/// training option (or preset), each on a scratch session so that the learner's own options stay
/// as they are. With a stale sampler it also sets what was learned beside the time it took in
/// `PipelineClock`'s model, and the ratios' range beside the lag. Lessons 08 and 16.
enum SweepCommand {
    typealias Row = (value: String, settings: TrainingSettings, runs: [SeedsCommand.Run])

    static func sweep(_ session: Session, _ args: [String]) throws(CommandError) -> [String] {
        guard args.count >= 2 else { throw CommandError("sweep takes KEY V1,V2,... then 'seeds N train M', e.g. 'sweep loss_type grpo,dapo seeds 8 train 200'") }
        let (key, apply) = try sweptOption(args[0], session)
        let values = args[1].split(separator: ",").map(String.init)
        guard values.count >= 2, values.count <= 8 else { throw CommandError("sweep takes 2 to 8 values, separated by commas, e.g. grpo,dapo") }
        let request = try SeedsCommand.parse(Array(args.dropFirst(2)), command: "sweep")
        // Each value on a scratch session; every value is checked before anything runs.
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
        try SeedsCommand.checkSize(request, scratches.map(\.session.trainer.settings))
        var rows: [Row] = []
        var stopped: String? = nil
        for (value, scratch) in scratches {
            let (runs, halted) = try SeedsCommand.runs(scratch, request, label: "\(key) \(value), ")
            if let halted {
                stopped = "\(key) \(value): \(halted)"
                break
            }
            rows.append((value, scratch.trainer.settings, runs))
        }
        let settings = scratches.map(\.session.trainer.settings)
        let w = max(1, min(request.window, (settings.map(request.iterations).min() ?? 1) / 2))
        var lines = Fmt.wrap("sweep \(key) over \(rows.map(\.value).joined(separator: ", ")): \(request.seeds) seeds (1-\(request.seeds)) "
                             + "x \(request.lengthText(settings)) each; " + SeedsCommand.trainingText(session.trainer.settings, swept: key) + "; loss: " + ExplainText.changedSettings(session.config)
                             + (session.setting(named: key)?.scope == .training ? "" : " (\(key) as swept)"), width: session.lineWidth, indent: "  ")
        lines += endTable(rows, key: key, request: request, window: w)
        if let level = request.level { lines += [""] + reachTable(rows, key: key, request: request, level: level) }
        lines += [""] + othersTable(rows, key: key, window: w)
        if rows.contains(where: { $0.settings.hasSamplerMismatch }) {
            lines += [""] + ratioTable(rows, key: key, window: w)
        }
        if rows.contains(where: { $0.settings.maxStaleness > 0 }) {
            lines += [""] + timeTable(rows, key: key, request: request, session: session)
        }
        if request.level != nil {
            lines += Fmt.wrap("reached: runs whose mean \(SeedsCommand.measureText(request)) over \(request.window) iterations reaches "
                              + "\(Fmt.num(request.level!)); 'at iteration' is over those runs only, 'completions' the ones sampled by then",
                              width: session.lineWidth, indent: "  ")
        }
        if !rows.isEmpty {
            let value = SeedsCommand.measure(named: request.measure)
            let n = rows.flatMap { $0.runs.map(\.iterations.count) }.min() ?? 0
            let series = rows.map { row in
                (name: "\(key) \(row.value)",
                 values: (0..<n).map { i in row.runs.map { value($0.iterations[i]) ?? .nan }.reduce(0, +) / Double(row.runs.count) })
            }
            lines += [""] + Chart.render(title: "mean \(SeedsCommand.measureText(request)) per iteration, each the mean over \(request.seeds) seeds",
                                         series: series, width: 60, height: 9, unicode: session.unicode)
            lines += againstValues(rows, key: key, window: w, session: session, request: request)
        }
        return lines + (stopped.map { ["", $0] } ?? [])
    }

    /// The measure at the runs' end: mean, sd and 95% interval, with the other reward's mean beside it.
    static func endTable(_ rows: [Row], key: String, request: SeedsCommand.Request, window w: Int) -> [String] {
        let measure = SeedsCommand.measure(named: request.measure)
        let other = request.measure == "reward" ? "expected_reward" : "reward"
        let otherValue = SeedsCommand.measure(named: other)
        var table = Table(title: "\(SeedsCommand.measureText(request)) at the end of each run (the mean of its last \(w) iterations)",
                          columns: [.text(key), .number(request.measure), .number("sd"), .text("95% interval"), .number(other)])
        for row in rows {
            guard let s = SeedStatistics(row.runs.compactMap { SeedsCommand.endValue($0, measure, window: w) }) else { continue }
            let others = row.runs.compactMap { SeedsCommand.endValue($0, otherValue, window: w) }
            table.add([row.value, Fmt.num(s.mean), Fmt.num(s.sd), s.intervalText,
                       others.isEmpty ? "-" : Fmt.num(others.reduce(0, +) / Double(others.count))])
        }
        return table.render()
    }

    /// When each value's runs first reach `level`: iteration, spread and completions sampled by then.
    static func reachTable(_ rows: [Row], key: String, request: SeedsCommand.Request, level: Double) -> [String] {
        var reach = Table(title: "when the mean \(SeedsCommand.measureText(request)) over \(request.window) iterations first reaches \(Fmt.num(level))",
                          columns: [.text(key), .text("reached"), .number("at iteration"), .number("sd"), .number("completions")])
        for row in rows {
            // Completions sampled per iteration under this value (it may be num_generations itself).
            let perIteration = Double(row.settings.promptsPerIteration * row.settings.numGenerations)
            let at = reachedAt(row, request: request, level: level).map(Double.init)
            let t = SeedStatistics(at)
            let mean = t?.mean ?? at.first
            reach.add([row.value, "\(at.count)/\(row.runs.count)", mean.map { Fmt.num($0) } ?? "-", t.map { Fmt.num($0.sd) } ?? "-",
                       mean.map { Fmt.num($0 * perIteration) } ?? "-"])
        }
        return reach.render()
    }

    /// The iteration (1-based) at which each run that reaches `level` first does.
    static func reachedAt(_ row: Row, request: SeedsCommand.Request, level: Double) -> [Int] {
        row.runs.compactMap { SeedsCommand.reached($0, level: level, window: request.window, measure: request.measure) }
    }

    /// Length, wrong answers' length, clip, KL and entropy at the runs' end, as mean (sd).
    static func othersTable(_ rows: [Row], key: String, window w: Int) -> [String] {
        let names = ["length", "length_wrong", "clip", "kl", "entropy"]
        var others = Table(title: "the other series at the end of each run, mean (sd) over the runs",
                           columns: [.text(key)] + names.map { .text($0) })
        for row in rows {
            others.add([row.value] + names.map { name in meanAndSD(row.runs, SeedsCommand.measure(named: name), window: w) })
        }
        return others.render()
    }

    /// The ratio's range against theta_old and against each token's sampler, at the runs' end.
    static func ratioTable(_ rows: [Row], key: String, window w: Int) -> [String] {
        let names = ["ratio_min", "ratio_max", "sampler_ratio_min", "sampler_ratio_max"]
        var table = Table(title: "the ratios' range at the runs' end, pi/pi_old and pi/pi_sampler, mean (sd)",
                          columns: [.text(key)] + names.map { .text($0) })
        for row in rows {
            table.add([row.value] + names.map { name in meanAndSD(row.runs, SeedsCommand.measure(named: name), window: w) })
        }
        return table.render()
    }

    /// "mean (sd)" over the runs, three digits each; the value alone for one run, "-" for none.
    static func meanAndSD(_ runs: [SeedsCommand.Run], _ value: (SeedsCommand.Iteration) -> Double?, window w: Int) -> String {
        let xs = runs.compactMap { SeedsCommand.endValue($0, value, window: w) }
        guard let s = SeedStatistics(xs) else { return xs.first.map { Fmt.num($0, digits: 3) } ?? "-" }
        return "\(Fmt.num(s.mean, digits: 3)) (\(Fmt.num(s.sd, digits: 2)))"
    }

    /// Time in `PipelineClock`'s model: per iteration, for the whole run, and to reach the level.
    static func timeTable(_ rows: [Row], key: String, request: SeedsCommand.Request, session: Session) -> [String] {
        var table = Table(title: "time in a model: a batch's sampling takes \(Fmt.num(request.generationTime)) (gen_time), an update 1",
                          columns: [.text(key), .number("per iteration"), .number("run's time")]
                          + (request.level == nil ? [] : [.number("time to reach"), .number("sd")]))
        for row in rows {
            let clock = SeedsCommand.clock(row.settings, request)
            let times = clock.finishTimes(iterations: row.runs.first?.iterations.count ?? 0)
            guard let last = times.last else { continue }
            // The steady pace, past the first iteration (which no sampler can overlap).
            let pace = times.count > 1 ? (last - times[0]) / Double(times.count - 1) : last
            var cells = [row.value, Fmt.num(pace), Fmt.num(last)]
            if let level = request.level {
                let at = reachedAt(row, request: request, level: level).map { times[$0 - 1] }
                let s = SeedStatistics(at)
                cells += [(s?.mean ?? at.first).map { Fmt.num($0) } ?? "-", s.map { Fmt.num($0.sd) } ?? "-"]
            }
            table.add(cells)
        }
        return table.render() + Fmt.wrap("the sampler runs up to max_staleness updates ahead; the model leaves out generation "
                                         + "times that vary (long completions, stragglers), where more staleness keeps the trainer "
                                         + "busier (lesson 16)", width: session.lineWidth, indent: "  ")
    }

    /// For three or more numeric values (max_staleness 0,4,16, ...): the measure, the clip
    /// fraction and the ratios' range at the runs' end against the value, the values evenly
    /// spaced in the order given.
    static func againstValues(_ rows: [Row], key: String, window w: Int, session: Session, request: SeedsCommand.Request) -> [String] {
        guard rows.count >= 3, rows.allSatisfy({ Double(decimalText: $0.value) != nil }) else { return [] }
        let axis = "\(key) (\(rows.map(\.value).joined(separator: ", ")), evenly spaced)"
        // Each value twice, so that a value is a short segment rather than a single dot.
        func twice(_ xs: [Double]) -> [Double] { xs.flatMap { [$0, $0] } }
        func ends(_ name: String) -> [[Double]] {
            rows.map { row in row.runs.compactMap { SeedsCommand.endValue($0, SeedsCommand.measure(named: name), window: w) } }
        }
        func chart(_ title: String, _ series: [(name: String, values: [Double])]) -> [String] {
            [""] + Chart.render(title: title, series: series.map { ($0.name, twice($0.values)) }, width: 60, height: 9,
                                unicode: session.unicode, xEnds: ("\(key) \(rows.first!.value)", rows.last!.value))
        }
        func band(_ name: String) -> [(name: String, values: [Double])] {
            let xs = ends(name)
            return [("lowest", xs.map { $0.min() ?? .nan }), ("highest", xs.map { $0.max() ?? .nan }),
                    ("mean", xs.map { $0.isEmpty ? .nan : $0.reduce(0, +) / Double($0.count) })]
        }
        func means(_ name: String) -> [Double] { ends(name).map { $0.isEmpty ? .nan : $0.reduce(0, +) / Double($0.count) } }
        var lines = chart("\(SeedsCommand.measureText(request)) at the runs' end against \(axis)", band(request.measure))
        if ends("clip").allSatisfy({ !$0.isEmpty }) {
            lines += chart("clip_ratio/region_mean at the runs' end against \(key): mean, lowest and highest run", band("clip"))
        }
        lines += chart("the ratios' range at the runs' end against \(key), means over the runs",
                       [("pi/pi_old min", means("ratio_min")), ("pi/pi_old max", means("ratio_max")),
                        ("pi/pi_sampler min", means("sampler_ratio_min")), ("pi/pi_sampler max", means("sampler_ratio_max"))])
        return lines
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
                scratch.config = preset.config
            })
        }
        guard let setting = session.setting(named: name), setting.scope != .display else {
            throw CommandError("sweep varies a loss or training option, or preset; '\(Interpreter.shorten(name))' is neither ('config' lists them)")
        }
        guard setting.key != "seed" else { throw CommandError("sweep varies an option over the seeds 1..N; the seed itself is what 'seeds N' varies") }
        return (setting.key, { scratch, value throws(CommandError) in try setting.set(scratch, value) })
    }
}
