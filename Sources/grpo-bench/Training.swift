import REPLCore
import TinyPolicy

/// One report section: lines for the table and a value for the JSON object.
struct BenchSection {
    var table: [String]
    var json: JSONValue
}

/// One way of feeding the trainer: synchronous, or a stale sampler (issue 14).
private struct SamplerSchedule {
    var label: String
    var maxStaleness: Int
    var weightUpdateInterval: Int
}

/// What one training run cost and how far it got.
private struct TrainingRun {
    var schedule: SamplerSchedule
    var seconds: Double
    var iterationMedian: Double
    var initialReward: Double
    var finalReward: Double
    var window: Int
}

/// The schedules timed: the synchronous loop, a sampler four updates behind (a queue of
/// snapshots), and the same with PipelineRL's in-flight weight updates every 16 tokens.
private let schedules = [
    SamplerSchedule(label: "synchronous (k = 0)", maxStaleness: 0, weightUpdateInterval: 0),
    SamplerSchedule(label: "k = 4", maxStaleness: 4, weightUpdateInterval: 0),
    SamplerSchedule(label: "k = 4, in flight every 16", maxStaleness: 4, weightUpdateInterval: 16),
]

/// Interleaved rounds per schedule (odd, so the median is one of them).
private let trainingRounds = 5

/// Trains a fresh policy for `iterations` under `schedule`, then times single iterations of it.
private func timedRun(_ base: TrainingSettings, _ schedule: SamplerSchedule, iterations: Int) -> TrainingRun? {
    var settings = base
    settings.maxStaleness = schedule.maxStaleness
    settings.weightUpdateInterval = schedule.weightUpdateInterval
    // The defaults with these schedules are valid (TinyPolicy's staleness tests train them).
    guard var trainer = try? Trainer(settings: settings) else { return nil }
    let start = now()
    // The defaults train to the end (the same tests); a run that could not is left out.
    guard (try? trainer.train(iterations: iterations)) != nil else { return nil }
    let seconds = now() - start
    // One summary per inner update; with mu = 1 that is one per iteration.
    let rewards = trainer.history.map(\.meanReward)
    // First and last windows apart: at most 20 iterations each, at most half the run.
    let window = max(1, min(20, rewards.count / 2))
    let mean = { (values: ArraySlice<Double>) in values.reduce(0, +) / Double(max(window, 1)) }
    var one = trainer
    let iteration = measure(warmup: 2, repeats: 20) { _ = try? one.iteration() }
    return TrainingRun(schedule: schedule, seconds: seconds, iterationMedian: iteration.median,
                       initialReward: mean(rewards.prefix(window)), finalReward: mean(rewards.suffix(window)),
                       window: window)
}

/// The tiny policy's training figures (issues 3 and 14): how long one full GRPO iteration takes
/// on the default task (sampling, scoring, the loss on the chosen path, backward, the optimizer
/// step), and a `--iterations` run (default 500) from a fresh policy, with the mean sampled reward
/// over its first and last 20 iterations: what a learner's `train 500` costs in the REPL. The
/// sampler schedules run in interleaved rounds in one process, so their ratio is the figure to read.
func trainingSection(_ options: Options) -> BenchSection? {
    var settings = TrainingSettings()
    settings.path = options.trainingPath
    settings.seed = options.seed
    let iterations = options.trainingIterations
    // Rounds interleave the schedules, so a noisy stretch of the machine hits all of them; each
    // schedule reports its median round.
    var rounds: [[TrainingRun]] = Array(repeating: [], count: schedules.count)
    for _ in 0..<trainingRounds {
        for (index, schedule) in schedules.enumerated() {
            guard let run = timedRun(settings, schedule, iterations: iterations) else { return nil }
            rounds[index].append(run)
        }
    }
    let runs = rounds.map { $0.sorted { $0.seconds < $1.seconds }[trainingRounds / 2] }
    guard let synchronous = runs.first else { return nil }
    let perSecond = { (run: TrainingRun) in Double(iterations) / run.seconds }

    func fields(_ run: TrainingRun) -> [(String, JSONValue)] {
        [("iterations", .integer(iterations)), ("seconds", .number(run.seconds)),
         ("iterations_per_second", .number(perSecond(run))),
         ("initial_mean_reward", .number(run.initialReward)), ("final_mean_reward", .number(run.finalReward)),
         ("iteration_median_seconds", .number(run.iterationMedian))]
    }
    let stale = runs.dropFirst().map { run in
        JSONValue.fields([("max_staleness", .integer(run.schedule.maxStaleness)),
                          ("weight_update_interval", .integer(run.schedule.weightUpdateInterval))]
                         + fields(run) + [("ratio_to_synchronous", .number(perSecond(run) / perSecond(synchronous)))])
    }
    let json = JSONValue.fields(
        [("task", .string(settings.task)), ("seed", .integer(Int(truncatingIfNeeded: settings.seed))),
         ("path", .string(settings.path.rawValue))] + fields(synchronous) + [("staleness", .array(stale))])

    let width = schedules.map(\.label.count).max() ?? 0
    let rows = runs.map { run in
        pad(run.schedule.label, width, left: true)
            + "  " + pad(format(perSecond(run), 0), 6)
            + "  " + pad(format(perSecond(run) / perSecond(synchronous), 2) + "x", 6)
            + "  " + pad(format(run.iterationMedian * 1e3, 3), 7)
            + "  " + format(run.initialReward, 3) + " -> " + format(run.finalReward, 3)
    }
    let table = [
        "  task \(settings.task), seed \(settings.seed), \(settings.path.rawValue) path, "
            + "G = \(settings.numGenerations), \(settings.promptsPerIteration) prompts per iteration, mu = \(settings.numIterations)",
        "  \(iterations) iterations from a fresh policy, median of \(trainingRounds) interleaved rounds each;",
        "  an iteration = sample, score, loss, backward, step; reward = mean sampled",
        "  reward, first -> last \(synchronous.window) iterations of the median round; k = max_staleness,",
        "  in flight every N = weight_update_interval N (new weights every N tokens)",
        "  " + pad("sampler", width, left: true)
            + "  " + pad("iter/s", 6) + "  " + pad("ratio", 6) + "  " + pad("ms/iter", 7) + "  reward",
    ] + rows.map { "  " + $0 }
    return BenchSection(table: table, json: json)
}
