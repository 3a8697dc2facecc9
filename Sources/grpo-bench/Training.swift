import REPLCore
import TinyPolicy

/// One report section: lines for the table and a value for the JSON object.
struct BenchSection {
    var table: [String]
    var json: JSONValue
}

/// The tiny policy's training figures (issue 3): how long one full GRPO iteration takes on the
/// default task (sampling, scoring, the loss on the chosen path, backward, the optimizer step),
/// and a `--iterations` run (default 500) from a fresh policy, with the mean reward over its first
/// and last 20 iterations: what a learner's `train 500` costs in the REPL.
func trainingSection(_ options: Options) -> BenchSection? {
    var settings = TrainingSettings()
    settings.path = options.trainingPath
    settings.seed = options.seed
    // The defaults are valid by construction (TinyPolicy's tests check them).
    guard var trainer = try? Trainer(settings: settings) else { return nil }
    let iterations = options.trainingIterations
    let start = now()
    trainer.train(iterations: iterations)
    let seconds = now() - start
    // One summary per inner update; with mu = 1 that is one per iteration.
    let rewards = trainer.history.map(\.meanReward)
    let window = min(20, rewards.count)
    let initial = rewards.prefix(window).reduce(0, +) / Double(max(window, 1))
    let final = rewards.suffix(window).reduce(0, +) / Double(max(window, 1))

    var one = trainer
    let iteration = measure(warmup: 2, repeats: 20) { one.iteration() }
    let json = JSONValue.fields([
        ("task", .string(settings.task)), ("seed", .integer(Int(truncatingIfNeeded: settings.seed))),
        ("path", .string(settings.path.rawValue)), ("iterations", .integer(iterations)),
        ("seconds", .number(seconds)), ("iterations_per_second", .number(Double(iterations) / seconds)),
        ("initial_mean_reward", .number(initial)), ("final_mean_reward", .number(final)),
        ("iteration_median_seconds", .number(iteration.median)),
    ])
    let table = [
        "  task \(settings.task), seed \(settings.seed), \(settings.path.rawValue) path, "
            + "G = \(settings.numGenerations), \(settings.promptsPerIteration) prompts per iteration, mu = \(settings.numIterations)",
        "  one iteration (sample, score, loss, backward, step): median \(format(iteration.median * 1e3, 3)) ms",
        "  \(iterations) iterations: \(format(seconds, 3)) s, \(format(Double(iterations) / seconds, 0)) iterations/s; "
            + "mean reward \(format(initial, 3)) (first \(window)) -> \(format(final, 3)) (last \(window))",
    ]
    return BenchSection(table: table, json: json)
}
