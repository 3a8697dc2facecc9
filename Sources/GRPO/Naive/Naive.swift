/// The naive path: the GRPO loss as loops that mirror the equation term by term, one function
/// per term, gradients from `Scalar`. It is the specification the vectorized path is tested
/// against: slow on purpose, never clever.
///
/// The objective for one prompt q and its G completions o_1..o_G (loss = -objective):
///
///     J = 1/G sum_i 1/|o_i| sum_t [ min(r_it A_i, clip(r_it, 1-eps, 1+eps_high) A_i) - beta KL_it ]
///
/// - `Naive.advantages`            A_i      (Advantage.swift, lesson 02)
/// - `Naive.tokenRatio`            r_it     (ImportanceRatio.swift, lesson 03)
/// - `Naive.clippedSurrogate`      min(...) (Clip.swift, lesson 04)
/// - `Naive.klPenalty`             KL_it    (KL.swift, lesson 06)
/// - `Naive.tokenWeight`           1/|o_i|, 1/G and the other normalizers (Normalization.swift, lesson 07)
/// - `Naive.entropyMask`           forking tokens (EntropyMask.swift, lesson 10)
/// - `Naive.breakdown`             all of it for a batch (Objective.swift)
public enum Naive {
    /// Above this many tokens the tools run the vectorized path alone unless asked: the naive
    /// path builds a graph of objects, 1-2 KB and about 5 us per token in a release build.
    public static let comfortableTokenCount = 100_000
}
