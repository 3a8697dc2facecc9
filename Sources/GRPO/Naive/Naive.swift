/// The naive path: the GRPO loss as loops that mirror the equation term by term, one function
/// per term, gradients from `Scalar`. It is the specification the vectorized path is tested
/// against: slow on purpose, never clever.
///
/// The objective for one prompt q and its G completions o_1..o_G, DeepSeekMath's form
/// (loss = -objective; `LossTerms.swift` has the general composition):
///
///     J = 1/G sum_i 1/|o_i| sum_t [ min(r_it A_i, clip(r_it, 1-eps, 1+eps_high) A_i) - beta KL_it ]
///
/// - `Naive.advantages`            A_i      (Advantage.swift, RewardFunctions.swift; lesson 02)
/// - `Naive.tokenRatio`            r_it     (ImportanceRatio.swift, lesson 03; GSPO's `sequenceRatio`, lesson 10)
/// - `Naive.policyObjective`       the objective of `loss_type` (Objectives/; lessons 04, 05):
///   `clippedSurrogate` min(...), `cispoObjective`, `sapoObjective`, `vespoObjective`
/// - `Naive.samplerWeights`        the sampler/trainer weight (SamplerCorrection.swift, lesson 09)
/// - `Naive.lossMask`, `Naive.offPolicyKeep`, `Naive.entropyMask`   which tokens count and act
///                                 (Masks/; lessons 05, 10)
/// - `Naive.klPenalty`             KL_it    (Regularizers/KL.swift, lesson 06)
/// - `Naive.entropyBonus`          the entropy bonus (Regularizers/EntropyBonus.swift, lesson 05)
/// - `Naive.tokenWeight`, `Naive.aggregate`   1/|o_i|, 1/G and the other normalizers
///                                 (Aggregation.swift, lesson 07)
/// - `Naive.breakdown`             all of it for a batch (NaiveLoss.swift), `naiveMetrics` its metrics
public enum Naive {
    /// Above this many tokens the tools run the vectorized path alone unless asked: the naive
    /// path builds a graph of objects, 1-2 KB and about 5 us per token in a release build.
    public static let comfortableTokenCount = 100_000
}
