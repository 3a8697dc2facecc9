import GRPO
import ReferenceSolutions

/// One deliberately wrong answer per exercise, each a mistake learners make: CI checks that its
/// exercise's tests fail with a message that names the mistake.
public enum Wrong {
    /// The sign: the objective instead of the loss.
    public static func policyGradientLoss(logp: Scalar, advantage: Double) throws -> Scalar { logp * advantage }

    /// The population std whatever the estimator.
    public static func groupAdvantages(rewards: [Double], estimator: GRPOConfig.StdEstimator, epsilon: Double) throws -> [Double] {
        let n = Double(rewards.count)
        let mean = rewards.reduce(0, +) / n
        let std = (rewards.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        return rewards.map { std == 0 ? 0 : ($0 - mean) / (std + epsilon) }
    }

    /// pi_old / pi_theta.
    public static func importanceRatio(logp: Scalar, oldLogp: Double) throws -> Scalar { Scalar.exp(oldLogp - logp) }

    /// The clip without the min.
    public static func clippedObjective(ratio: Scalar, advantage: Double, epsilonLow: Double, epsilonHigh: Double) throws -> Scalar {
        Scalar.clamp(ratio, min: 1 - epsilonLow, max: 1 + epsilonHigh) * advantage
    }

    /// d = logp - ref_logp.
    public static func klEstimate(logp: Scalar, refLogp: Double, estimator: GRPOConfig.KLEstimator) throws -> Scalar {
        let d = logp - refLogp
        switch estimator {
        case .k1: return -d
        case .k2: return d * d / 2
        case .k3: return Scalar.exp(d) - d - 1
        case .abs: return Scalar.abs(d)
        }
    }

    /// Every aggregation as token-mean.
    public static func aggregate(_ perTokenLoss: [[Scalar]], aggregation: GRPOConfig.Aggregation,
                                 maxCompletionLength: Int) throws -> Scalar {
        let n = Double(perTokenLoss.reduce(0) { $0 + $1.count })
        return perTokenLoss.joined().reduce(Scalar(0)) { $0 + $1 / n }
    }

    /// The loss without its KL term.
    public static func grpoLoss(logp: [[Scalar]], batch: Batch, epsilon: Double, beta: Double) throws -> Scalar {
        try Reference.grpoLoss(logp: logp, batch: batch, epsilon: epsilon, beta: 0)
    }

    /// What each wrong answer's first problem must say.
    public static let diagnoses: [String: String] = [
        "PolicyGradient": "the sign", "Advantages": "the population std", "Ratio": "inverted",
        "ClipMin": "no min", "KL": "d the wrong way round", "Aggregation": "this is .tokenMean's normalizer",
        "Loss": "the KL term is missing",
    ]
}

/// More mistakes learners made when the course was tried, each with what its first problem must
/// say (or, for a mistake no name fits, must not say): CI checks the diagnoses are not fooled.
public enum MoreMistakes {
    /// min over the ratios, then times A: right for A > 0, the larger term for A < 0.
    public static func minBeforeAdvantage(ratio: Scalar, advantage: Double, epsilonLow: Double, epsilonHigh: Double) throws -> Scalar {
        Scalar.minimum(ratio, Scalar.clamp(ratio, min: 1 - epsilonLow, max: 1 + epsilonHigh)) * advantage
    }

    /// The square root in the wrong place: sqrt(sum of squares) / (n - 1). On (1, 0, 0, 1) the sum
    /// of squares is 1, its own root, which once looked like "divided by the variance".
    public static func misplacedRoot(rewards: [Double], estimator: GRPOConfig.StdEstimator, epsilon: Double) throws -> [Double] {
        let n = Double(rewards.count)
        let mean = rewards.reduce(0, +) / n
        let squares = rewards.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let std = squares.squareRoot() / (estimator == .sample ? n - 1 : n)
        return rewards.map { ($0 - mean) / (std + epsilon) }
    }

    /// k1 without its minus (d itself), the other estimators right.
    public static func k1WithoutMinus(logp: Scalar, refLogp: Double, estimator: GRPOConfig.KLEstimator) throws -> Scalar {
        estimator == .k1 ? refLogp - logp : try Reference.klEstimate(logp: logp, refLogp: refLogp, estimator: estimator)
    }

    /// The loss rebuilt from values: right numbers, no gradient.
    public static func rebuiltFromValue(logp: Scalar, advantage: Double) throws -> Scalar { Scalar(-advantage * logp.value) }

    /// The objective, not the loss, for the whole batch.
    public static func flippedLoss(logp: [[Scalar]], batch: Batch, epsilon: Double, beta: Double) throws -> Scalar {
        -(try Reference.grpoLoss(logp: logp, batch: batch, epsilon: epsilon, beta: beta))
    }

    /// The KL term subtracted.
    public static func klSubtracted(logp: [[Scalar]], batch: Batch, epsilon: Double, beta: Double) throws -> Scalar {
        try Reference.grpoLoss(logp: logp, batch: batch, epsilon: epsilon, beta: -beta)
    }
}
