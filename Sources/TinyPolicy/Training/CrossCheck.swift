import GRPO

extension Breakdown {
    /// The largest absolute difference between two breakdowns of the same batch, over the loss
    /// and every per-completion and per-token number: advantages, ratio, clipped ratio, KL,
    /// sampler weight, per-token loss, token weight and d loss / d logp. A few 1e-16 means the
    /// naive and vectorized paths agree to rounding. Lesson 10.
    public func maxDifference(from other: Breakdown) -> Double {
        var largest = abs(loss - other.loss)
        func compare(_ a: [Double], _ b: [Double]) {
            guard a.count == b.count else { largest = .infinity; return }
            for k in a.indices { largest = max(largest, abs(a[k] - b[k])) }
        }
        compare(advantages, other.advantages)
        compare(ratio.values, other.ratio.values)
        compare(clippedRatio.values, other.clippedRatio.values)
        compare(kl?.values ?? [], other.kl?.values ?? [])
        compare(samplerWeight?.values ?? [], other.samplerWeight?.values ?? [])
        compare(perTokenLoss.values, other.perTokenLoss.values)
        compare(weight.values, other.weight.values)
        compare(gradLogp.values, other.gradLogp.values)
        return largest
    }
}
