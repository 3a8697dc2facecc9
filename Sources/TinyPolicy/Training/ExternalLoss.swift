import GRPO

/// A loss computed outside the project (the exercises' own answers, `exercises/`): its value on a
/// batch and d loss / d logp for every token, `gradLogp[i][t]` for completion i of the batch (groups
/// one after another) and its token t.
public struct ExternalLoss: Sendable, Equatable {
    public var loss: Double
    public var gradLogp: [[Double]]

    public init(loss: Double, gradLogp: [[Double]]) {
        self.loss = loss
        self.gradLogp = gradLogp
    }
}

/// An external loss that cannot drive an update: its gradient has the wrong shape, or a value
/// that is not finite. Says which completion or token, and what was accepted.
public struct ExternalLossError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
}

/// One update driven by an external loss, with how far it was from the project's loss on the
/// same batch (the path in `settings.path`, with the trainer's loss options).
public struct ExternalStep: Sendable {
    public let trace: StepTrace
    /// |external loss - the project's loss|.
    public let lossDifference: Double
    /// The largest |external d loss / d logp - the project's| over the batch's tokens.
    public let gradientDifference: Double
}

extension Trainer {
    /// One optimizer update whose d loss / d logp comes from `loss` (a rollout first if
    /// `needsRollout`), so a learner can train the tiny policy with a loss they wrote. The
    /// project's loss is computed on the same batch for the step's metrics and for the
    /// differences returned; the trace's breakdown is the project's, its theta gradient the
    /// external loss's. The external loss is the whole loss: the trainer's entropy bonus is not
    /// added to it. If `loss` throws, its gradient is refused (`ExternalLossError`) or the update
    /// cannot be computed (`TrainingError`), the trainer is unchanged, its rollout included.
    public mutating func innerStep(externalLoss loss: (Batch) throws -> ExternalLoss) throws -> ExternalStep {
        let input = try updateInput()
        let external = try loss(input.batch)
        let gradLogp = try Self.flatGradient(external, shapedAs: input.batch)
        let project = try breakdown(input.batch, config: appliedLossConfig, path: settings.path)
        let gradientDifference = zip(gradLogp, project.gradLogp.values).map { abs($0 - $1) }.max() ?? 0
        let trace = try update(input, breakdown: project, gradLogp: gradLogp, gradEntropy: nil, crossCheckDifference: nil)
        return ExternalStep(trace: trace, lossDifference: abs(external.loss - project.loss),
                            gradientDifference: gradientDifference)
    }

    /// The external gradient as one array in the batch's token order, after checking that it has
    /// one row per completion, one value per token, and only finite values.
    static func flatGradient(_ external: ExternalLoss, shapedAs batch: Batch) throws(ExternalLossError) -> [Double] {
        let lengths = batch.completions.map(\.logp.count)
        guard external.gradLogp.count == lengths.count else {
            throw ExternalLossError(description: "the loss's gradient has \(external.gradLogp.count) rows; the batch has \(lengths.count) completions, one row each")
        }
        for (i, (row, length)) in zip(external.gradLogp, lengths).enumerated() {
            guard row.count == length else {
                throw ExternalLossError(description: "the loss's gradient row \(i) has \(row.count) values; completion \(i) has \(length) tokens, one value each")
            }
            if let t = row.firstIndex(where: { !$0.isFinite }) {
                throw ExternalLossError(description: "the loss's d loss / d logp of token (\(i), \(t)) is \(row[t]); only finite values can train")
            }
        }
        guard external.loss.isFinite else {
            throw ExternalLossError(description: "the loss is \(external.loss); only a finite loss can train")
        }
        return external.gradLogp.flatMap { $0 }
    }
}
