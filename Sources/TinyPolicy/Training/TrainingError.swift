import GRPO

/// Why a rollout or an update could not be computed in doubles: which number was not finite,
/// where, and what would avoid it. The trainer finds it by checking what it computed (the
/// rollout's log-probabilities, theta's scores, the loss and both gradients, theta after the
/// optimizer step), never by predicting ahead. A rollout or update that throws leaves the trainer
/// exactly as it was: nothing is sampled, no parameter moves, no step is counted.
///
/// Options in range can get there: a temperature of 1e-320 divides a logit of 0.05 into
/// infinity; `learning_rate 100` with `sgd`, or with `num_iterations` > 1, pushes a ratio past
/// exp(709), whose gradient is inf * 0 = NaN; logits beyond 65504 are inf in float16.
public struct TrainingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What could not be made: a rollout on its own (`Trainer.rollout`), or an update (which may
    /// have been sampling its rollout).
    public enum Stage: Sendable, Equatable {
        case rollout, update
    }
    public internal(set) var stage = Stage.update
    /// The 1-based number of the update that could not be made (`stepCount + 1` at the time).
    public let step: Int
    /// What was not finite, and where.
    public let problem: String
    /// What would avoid it.
    public let hint: String

    public var description: String {
        (stage == .rollout ? "no rollout was sampled" : "step \(step) was not made") + ": \(problem); \(hint)"
    }
}

extension Trainer {
    /// A `TrainingError` for the next update.
    func trainingError(_ problem: String, hint: String) -> TrainingError {
        TrainingError(step: stepCount + 1, problem: problem, hint: hint)
    }

    /// The first value of `values` that is not finite, as "NAME of completion i, token t is x"
    /// (`offsets` are the completions' row starts), or nil when all are finite.
    static func firstNonFinite(_ values: [Double], offsets: [Int], name: String) -> String? {
        guard let j = values.firstIndex(where: { !$0.isFinite }) else { return nil }
        let i = (offsets.lastIndex { $0 <= j } ?? 0)
        return "\(name) of completion \(i + 1), token \(j - offsets[i] + 1) is \(short(values[j]))"
    }

    /// A number for a message: NaN without a sign, about 7 significant digits (a Float's
    /// shortest form) where a Float can hold it, and no ".0" on a whole number.
    static func short(_ x: Double) -> String {
        if x.isNaN { return "NaN" }
        let text = x == 0 || (abs(x) > 1e-37 && abs(x) < 1e37) ? "\(Float(x))" : "\(x)"
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    /// The largest |theta| entry of `policy` (a logit is the sum of two of them), for messages.
    static func largestEntry(_ policy: Policy) -> Double {
        policy.parameters.reduce(0) { max($0, abs($1)) }
    }

    /// What to change when scores or samples are not finite: the temperatures, the sampler's
    /// precision when it rounds, and a new run.
    var scoringHint: String {
        var knobs = ["raise temperature (now \(Self.short(settings.temperature)))"]
        if let t = settings.samplerTemperature { knobs.append("sampler_temperature (now \(Self.short(t)))") }
        if settings.samplerPrecision != .exact {
            knobs.append("set sampler_precision exact (now \(settings.samplerPrecision.rawValue), which rounds logits)")
        }
        return knobs.joined(separator: ", ") + ", or start a new run"
    }

    /// What to change when the loss or a gradient is not finite on finite scores: a smaller step,
    /// fewer updates per batch, or a new batch.
    var stepSizeHint: String {
        "a smaller learning_rate (now \(Self.short(settings.learningRate)), \(settings.optimizer.rawValue)) or num_iterations "
            + "(now \(settings.numIterations)) avoids it, a new rollout resets the ratio to 1, or start a new run"
    }
}
