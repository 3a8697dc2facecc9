import GRPO

/// A rollout sampled but not kept yet, with the generator as its draws left it.
struct SampledRollout {
    var rollout: Rollout
    var rng: SeededGenerator
}

/// What one update is computed from: the rollout (`fresh` when the update samples it, kept only
/// if the update is), theta's scores of its completions, and the batch they make.
struct UpdateInput {
    var fresh: SampledRollout?
    var rollout: Rollout
    var evaluation: PolicyEvaluation
    var batch: Batch
}

/// The checks that make a rollout and an update all or nothing: each looks at numbers already
/// computed and throws a `TrainingError` naming the first one that is not finite.
extension Trainer {
    /// A rollout's log-probabilities: the sampler's (when kept), theta_old's and theta_ref's.
    func checkScores(_ rollout: Rollout) throws(TrainingError) {
        var offsets = [0]
        for c in rollout.completions { offsets.append(offsets[offsets.count - 1] + c.count) }
        let scores = [("the sampler's log-probability", rollout.samplerLogp), ("log pi_old", rollout.oldLogp),
                      ("log pi_ref", rollout.refLogp)]
        for case let (name, rows?) in scores {
            if let found = Self.firstNonFinite(rows.flatMap { $0 }, offsets: offsets, name: name) {
                throw trainingError("\(found) in the rollout (theta's entries reach \(Self.short(Self.largestEntry(policy))))",
                                    hint: scoringHint)
            }
        }
    }

    /// theta's scores of the batch: log pi_theta and the entropies.
    func checkScores(_ evaluation: PolicyEvaluation) throws(TrainingError) {
        for (name, values) in [("log pi_theta", evaluation.logp), ("the entropy", evaluation.entropy)] {
            if let found = Self.firstNonFinite(values, offsets: evaluation.offsets, name: name) {
                throw trainingError("\(found) (theta's entries reach \(Self.short(Self.largestEntry(policy))))", hint: scoringHint)
            }
        }
    }

    /// The loss and its gradients with respect to logp and the entropies, on finite scores.
    func checkLoss(_ loss: Double, gradLogp: [Double], gradEntropy: [Double]?, _ input: UpdateInput) throws(TrainingError) {
        let offsets = input.evaluation.offsets
        var found = loss.isFinite ? nil : "the loss is \(Self.short(loss))"
        found = found ?? Self.firstNonFinite(gradLogp, offsets: offsets, name: "d loss / d logp")
        found = found ?? gradEntropy.flatMap { Self.firstNonFinite($0, offsets: offsets, name: "d loss / d entropy") }
        guard let found else { return }
        let ratios = zip(input.batch.completions.flatMap(\.logp), input.batch.completions.flatMap(\.oldLogp)).map { $0 - $1 }
        let largest = ratios.max() ?? 0
        throw trainingError("\(found) (the largest log-ratio logp - old_logp is \(Self.short(largest)))", hint: stepSizeHint)
    }

    /// d loss / d theta, and theta after the optimizer step.
    func checkUpdate(gradient: [Double], stepped: Policy, temperature: Double) throws(TrainingError) {
        if let k = gradient.firstIndex(where: { !$0.isFinite }) {
            // d loss / d logp was finite: d logp / d logit carries the factor 1 / temperature.
            throw trainingError("d loss / d theta of parameter \(k) is \(Self.short(gradient[k])) while d loss / d logp is finite "
                                + "(d logp / d logit carries 1 / temperature = \(Self.short(1 / temperature)))", hint: scoringHint)
        }
        if let k = stepped.parameters.firstIndex(where: { !$0.isFinite }) {
            throw trainingError("the optimizer step makes parameter \(k) of theta \(Self.short(stepped.parameters[k]))", hint: stepSizeHint)
        }
    }
}
