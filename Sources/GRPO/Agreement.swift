extension Breakdown {
    /// The largest |self - other| over the numbers two breakdowns of the same batch compute:
    /// the loss, advantages, ratio, KL, sampler weight, per-token loss, weight, d loss / d logp
    /// and the metrics (an absent one as 0). Equal infinities and two NaNs count as agreeing; a
    /// size mismatch is inf. The group means and stds come from one shared function and are not
    /// compared; the tests compare them, and the entropy masks, separately.
    /// A few 1e-16 means the naive and vectorized paths agree to rounding. Lesson 10.
    public func maxDifference(from other: Breakdown) -> Double {
        var largest = 0.0
        func compare(_ a: [Double], _ b: [Double]) {
            guard a.count == b.count else { largest = .infinity; return }
            for (u, v) in zip(a, b) where !(u == v || (u.isNaN && v.isNaN)) {
                largest = max(largest, abs(u - v).isNaN ? .infinity : abs(u - v))
            }
        }
        compare([loss], [other.loss])
        compare(advantages, other.advantages)
        compare(ratio.values, other.ratio.values)
        compare(kl?.values ?? [], other.kl?.values ?? [])
        compare(samplerWeight?.values ?? [], other.samplerWeight?.values ?? [])
        compare(perTokenLoss.values, other.perTokenLoss.values)
        compare(weight, other.weight)
        compare(gradLogp.values, other.gradLogp.values)
        let (m, n) = (metrics, other.metrics)
        compare([m.clipRatioLow, m.clipRatioHigh, m.clipRatioRegion, m.fracRewardZeroStd ?? 0, m.kl ?? 0, m.entropy ?? 0],
                [n.clipRatioLow, n.clipRatioHigh, n.clipRatioRegion, n.fracRewardZeroStd ?? 0, n.kl ?? 0, n.entropy ?? 0])
        return largest
    }
}
