import GRPO

/// A synthetic batch with the shapes and distributions of `torch_bench.py`: B rows of padded
/// length T, row lengths uniform in [T/2, T], logp uniform in [-3, 0], old and ref log-probs
/// = logp + N(0, 0.1), advantages N(0, 1). Drawn from GRPO's `SeededGenerator`, so the same
/// seed gives the same batch on every machine (PyTorch's generator gives other numbers of the
/// same distribution; the valid-token count differs slightly, which is why we compare tokens/s).
///
/// Only valid tokens are stored: the vectorized path never sees padding.
struct SyntheticBatch {
    let completions: Int
    let maxLen: Int
    /// The loss + gradient input: flat arrays, advantages given directly.
    let flat: FlatBatch
    let advantages: [Double]
    /// The same numbers as a `Batch` (for `breakdown` and the naive path). Each reward is the
    /// drawn advantage, in groups of G, so the group-normalized advantages the breakdown
    /// computes are again about N(0, 1).
    let batch: Batch

    var validTokens: Int { flat.tokenCount }

    init(completions b: Int, maxLen t: Int, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let g = [8, 4, 2].first { b % $0 == 0 } ?? b
        var logp: [Double] = [], old: [Double] = [], ref: [Double] = []
        let expected = b * (t + t / 2) / 2 + b
        logp.reserveCapacity(expected)
        old.reserveCapacity(expected)
        ref.reserveCapacity(expected)
        var offsets = [0]
        var advantages: [Double] = []
        var completions: [Completion] = []
        for _ in 0..<b {
            let n = rng.integer(t / 2, t)
            let rowLogp = (0..<n).map { _ in -3 * rng.uniform() }
            let rowOld = rowLogp.map { $0 + 0.1 * rng.normal() }
            let rowRef = rowLogp.map { $0 + 0.1 * rng.normal() }
            let a = rng.normal()
            logp += rowLogp
            old += rowOld
            ref += rowRef
            offsets.append(logp.count)
            advantages.append(a)
            completions.append(Completion(reward: a, logp: rowLogp, oldLogp: rowOld, refLogp: rowRef))
        }
        self.completions = b
        self.maxLen = t
        self.advantages = advantages
        self.flat = FlatBatch(logp: logp, oldLogp: old, refLogp: ref, entropy: [], offsets: offsets,
                              rewards: advantages, groupSize: g)
        self.batch = Batch(groups: stride(from: 0, to: b, by: g).map { Group(completions: Array(completions[$0..<($0 + g)])) })
    }
}
