import GRPO
import TinyPolicy

/// An answer to exercise Loss: `grpoLoss(logp, batch, epsilon, beta)` (`Mine.grpoLoss`,
/// `Reference.grpoLoss`, `Wrong.grpoLoss`).
public typealias LossAnswer = ([[Scalar]], Batch, Double, Double) throws -> Scalar

/// Two runs of the tiny policy from the same seed: one trained by an answer's loss, one by the
/// project's naive path, update by update.
public struct TrainingComparison: Sendable {
    /// One row per iteration: theta's exact expected reward before it, the mean sampled reward of
    /// its batch, for each run; and the largest |d loss / d logp| difference between the
    /// answer's gradient and the project's on the answer's own batches.
    public struct Row: Sendable {
        public var iteration: Int
        public var expectedReward: (answer: Double, project: Double)
        public var sampledReward: (answer: Double, project: Double)
        public var gradientDifference: Double
        public var lossDifference: Double
    }

    public var rows: [Row]
    /// theta's expected reward after the last update of each run.
    public var finalExpectedReward: (answer: Double, project: Double)
    public var settings: TrainingSettings
    public var lossConfig: GRPOConfig
}

/// The run both sides share: the default task (copy), TRL's `grpo` loss with epsilon 0.2 and beta
/// 0.04, and mu = 2 updates per batch, so that the second one sees ratios other than 1 and the
/// clip can act.
public func comparisonSetup(seed: UInt64) -> (TrainingSettings, GRPOConfig) {
    var settings = TrainingSettings()
    settings.seed = seed
    settings.numIterations = 2
    settings.path = .naive
    var config = GRPOConfig()
    config.lossType = .grpo
    config.epsilon = 0.2
    config.beta = 0.04
    return (settings, config)
}

/// The answer's loss as the trainer takes it: its value, and d loss / d logp from `Scalar`'s
/// backward pass over fresh leaves.
public func externalLoss(_ answer: @escaping LossAnswer, epsilon: Double, beta: Double) -> (Batch) throws -> ExternalLoss {
    { batch in
        let leaves = batch.completions.map { $0.logp.map(Scalar.init) }
        let loss = try answer(leaves, batch, epsilon, beta)
        loss.backward()
        return ExternalLoss(loss: loss.value, gradLogp: leaves.map { $0.map(\.grad) })
    }
}

/// Trains the tiny policy `iterations` iterations with `answer`'s loss and, beside it, with the
/// project's. Throws what the answer throws (`NotWrittenYet` for a stub), `ExternalLossError`, or
/// `TrainingError` when an update of either run has a number that is not finite.
public func compareTraining(_ answer: @escaping LossAnswer, iterations: Int, seed: UInt64) throws -> TrainingComparison {
    let (settings, config) = comparisonSetup(seed: seed)
    var answerRun = try Trainer(settings: settings, lossConfig: config)
    var projectRun = answerRun
    let loss = externalLoss(answer, epsilon: config.epsilon, beta: config.beta)
    let task = answerRun.task
    var rows: [TrainingComparison.Row] = []
    for iteration in 1...max(iterations, 1) {
        var row = TrainingComparison.Row(
            iteration: iteration,
            expectedReward: (task.expectedReward(answerRun.policy, temperature: settings.temperature),
                             task.expectedReward(projectRun.policy, temperature: settings.temperature)),
            sampledReward: (0, 0), gradientDifference: 0, lossDifference: 0)
        repeat {
            let step = try answerRun.innerStep(externalLoss: loss)
            row.gradientDifference = max(row.gradientDifference, step.gradientDifference)
            row.lossDifference = max(row.lossDifference, step.lossDifference)
            row.sampledReward.answer = step.trace.summary.meanReward
        } while !answerRun.needsRollout
        try projectRun.iteration()
        row.sampledReward.project = projectRun.history.last!.meanReward
        rows.append(row)
    }
    return TrainingComparison(
        rows: rows,
        finalExpectedReward: (task.expectedReward(answerRun.policy, temperature: settings.temperature),
                              task.expectedReward(projectRun.policy, temperature: settings.temperature)),
        settings: settings, lossConfig: config)
}
