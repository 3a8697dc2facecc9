import GRPO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The numbers of one inner update, for charts and the saved history: no arrays, only scalars.
/// Every value is measured on the batch before the update (the loss that was differentiated),
/// except `parameterChange`, the size of the update itself.
public struct StepSummary: Sendable, Equatable, Codable {
    /// 0-based count of inner updates before this one.
    public var step: Int
    /// 0-based index of the iteration (rollout) the batch came from.
    public var iteration: Int
    /// 0-based index of the update within its iteration: 0 ..< mu. Lesson 03.
    public var innerStep: Int
    /// The loss that was differentiated (its sign is the objective's, negated).
    public var loss: Double
    /// `Breakdown.lossRoundingBound` of that loss: below it, a loss that is not 0 is rounding.
    /// `nil` in sessions saved before it was kept.
    public var lossRoundingBound: Double? = nil
    /// mean_i r_i over the batch: the sampler's completions' (a stale sampler's weights are
    /// theta from `max_staleness` updates ago).
    public var meanReward: Double
    /// E[r] under theta itself (before the update), over every prompt, computed exactly
    /// (`RewardTask.expectedReward`): no sampling noise, no sampler lag. `nil` in sessions saved
    /// before it existed. Lesson 16.
    public var expectedReward: Double?
    /// Share of groups whose rewards are all equal: advantage 0, no policy gradient. Lesson 02.
    public var fracRewardZeroStd: Double
    /// ||d loss / d theta||.
    public var gradientNorm: Double
    /// ||theta_after - theta_before||.
    public var parameterChange: Double
    /// TRL's `clip_ratio/low_mean`, `high_mean`, `region_mean` (clip-and-min loss types; nil for
    /// the others, as TRL logs them). Lesson 04.
    public var clipRatioLow: Double?
    public var clipRatioHigh: Double?
    public var clipRatioRegion: Double?
    /// TRL's `cispo_clip_ratio` (cispo) and `vespo/phi_seq_mean` (vespo); nil for the others.
    /// Lesson 05.
    public var cispoClipRatio: Double?
    public var vespoPhiSeqMean: Double?
    /// Token mean of the per-token KL to theta_ref (the configured estimator), reported even when
    /// beta = 0, where it adds nothing to the loss. Lesson 06.
    public var kl: Double
    /// Token mean of pi_theta's entropy. Lesson 15.
    public var entropy: Double
    /// Mean completion length |o_i| in tokens (the end token included). Lesson 07.
    public var meanLength: Double
    /// Mean length of the fully correct completions (reward 1); `nil` when there are none.
    public var meanLengthCorrect: Double?
    /// Mean length of the others; `nil` when every completion is correct.
    public var meanLengthIncorrect: Double?
    /// Smallest and largest importance ratio pi_theta / pi_old in the batch: both exactly 1 on
    /// the first inner update. Lesson 03.
    public var ratioMin: Double
    public var ratioMax: Double
    /// Smallest, mean and largest sampler/trainer correction weight, when the sampler differs
    /// from pi_old and the correction is on; `nil` otherwise. Lesson 09.
    public var samplerWeightMin: Double?
    public var samplerWeightMean: Double?
    public var samplerWeightMax: Double?
    /// The entropy bonus's coefficient this update applied (`entropy_coef`, or the adaptive
    /// controller's); `nil` without a bonus. Lesson 05.
    public var entropyCoef: Double?
    /// How many updates behind theta the weights that began each completion were (the lag of its
    /// first token), the mean and largest over the batch: TRL's AsyncGRPOTrainer logs these per
    /// sample as `sample/staleness_mean` and `_max`, each sample stamped with the weights' version
    /// when its group was launched. `nil` without a stale sampler. Lesson 16.
    public var stalenessMean: Double? = nil
    public var stalenessMax: Int? = nil
    /// The mean lag per token: below `stalenessMean` when in-flight weight updates
    /// (`weight_update_interval`) gave later tokens newer weights. `nil` without a stale sampler.
    public var tokenLagMean: Double? = nil
    /// Smallest and largest pi_theta / pi_sampler, the ratio against the weights that really
    /// sampled each token, when the batch carries sampler_logp; `nil` otherwise (then the ratio
    /// above is already against the sampler). Lesson 16.
    public var behaviourRatioMin: Double? = nil
    public var behaviourRatioMax: Double? = nil
    /// Largest difference between the naive and vectorized breakdowns, when `cross_check` is on.
    /// Lesson 12.
    public var crossCheckDifference: Double?
}

extension StepSummary {
    /// Measures one update: `change` is theta_after - theta_before.
    init(step: Int, iteration: Int, innerStep: Int, rollout: Rollout, batch: Batch, breakdown: Breakdown,
         expectedReward: Double, gradient: [Double], change: [Double], crossCheckDifference: Double?) {
        let metrics = breakdown.metrics
        var correct: [Int] = [], incorrect: [Int] = []
        for (o, r) in zip(rollout.completions, rollout.rewards) {
            if r == 1 { correct.append(o.count) } else { incorrect.append(o.count) }
        }
        let ratios = breakdown.ratio.values
        let weights = breakdown.samplerWeight?.values
        self.init(
            step: step, iteration: iteration, innerStep: innerStep, loss: breakdown.loss,
            meanReward: mean(rollout.rewards), expectedReward: expectedReward, fracRewardZeroStd: metrics.fracRewardZeroStd ?? 0,  // a rollout always has rewards
            gradientNorm: norm(gradient), parameterChange: norm(change),
            clipRatioLow: metrics.clipRatioLow, clipRatioHigh: metrics.clipRatioHigh,
            clipRatioRegion: metrics.clipRatioRegion, cispoClipRatio: metrics.cispoClipRatio,
            vespoPhiSeqMean: metrics.vespoPhiSeqMean, kl: metrics.kl ?? 0, entropy: metrics.entropy ?? 0,
            meanLength: mean((correct + incorrect).map(Double.init)),
            meanLengthCorrect: correct.isEmpty ? nil : mean(correct.map(Double.init)),
            meanLengthIncorrect: incorrect.isEmpty ? nil : mean(incorrect.map(Double.init)),
            ratioMin: ratios.min() ?? 1, ratioMax: ratios.max() ?? 1,
            samplerWeightMin: weights?.min(), samplerWeightMean: weights.map(mean),
            samplerWeightMax: weights?.max(), entropyCoef: metrics.entropyCoef, crossCheckDifference: crossCheckDifference)
        lossRoundingBound = breakdown.lossRoundingBound
        if let rows = rollout.tokenLag {
            let perSample = rows.compactMap(\.first), perToken = Array(rows.joined())
            if !perSample.isEmpty {
                stalenessMean = Double(perSample.reduce(0, +)) / Double(perSample.count)
                stalenessMax = perSample.max()
                tokenLagMean = Double(perToken.reduce(0, +)) / Double(perToken.count)
            }
        }
        let sampled = batch.completions.compactMap { c in c.samplerLogp.map { zip(c.logp, $0) } }
        if !sampled.isEmpty {
            let behaviour = sampled.joined().map { logp, samplerLogp in exp(logp - samplerLogp) }
            behaviourRatioMin = behaviour.min()
            behaviourRatioMax = behaviour.max()
        }
    }
}

private func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }

private func norm(_ xs: [Double]) -> Double { xs.reduce(0) { $0 + $1 * $1 }.squareRoot() }
