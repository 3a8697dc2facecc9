extension Breakdown {
    /// The largest |self - other| over the numbers two breakdowns of the same batch compute:
    /// the loss (and the policy loss before the entropy bonus), advantages, ratio, KL, sampler
    /// weight, VESPO's phi, per-token loss, weight, d loss / d logp and every metric. Equal
    /// infinities and two NaNs count as agreeing; a size mismatch, or a quantity or metric one
    /// has and the other lacks, is inf. The group means and stds, and the masks, are compared by
    /// the tests separately. A few 1e-16 means the naive and vectorized paths agree to rounding.
    /// Lesson 12.
    public func maxDifference(from other: Breakdown) -> Double {
        var largest = 0.0
        func compare(_ a: [Double]?, _ b: [Double]?) {
            guard let a, let b else {
                if (a == nil) != (b == nil) { largest = .infinity }
                return
            }
            guard a.count == b.count else { largest = .infinity; return }
            for (u, v) in zip(a, b) where !(u == v || (u.isNaN && v.isNaN)) {
                largest = max(largest, abs(u - v).isNaN ? .infinity : abs(u - v))
            }
        }
        compare([loss, policyLoss], [other.loss, other.policyLoss])
        compare(advantages, other.advantages)
        compare(ratio.values, other.ratio.values)
        compare(kl?.values, other.kl?.values)
        compare(samplerWeight?.values, other.samplerWeight?.values)
        compare(vespoWeight, other.vespoWeight)
        compare(perTokenLoss.values, other.perTokenLoss.values)
        // A row without counted tokens weighs nothing, whatever its w_i (verl's 1 / (B (0 + 1e-8))
        // is 1e7-sized, so its last bit would dwarf every real difference).
        compare(weightsOfCountedRows(weight), other.weightsOfCountedRows(other.weight))
        compare(regularizerWeight.map(weightsOfCountedRows), other.regularizerWeight.map(other.weightsOfCountedRows))
        compare(gradLogp.values, other.gradLogp.values)
        for (_, value) in Metrics.names {
            compare(metrics[keyPath: value].map { [$0] }, other.metrics[keyPath: value].map { [$0] })
        }
        return largest
    }

    /// `weights` with 0 for the rows where the loss counts no token.
    func weightsOfCountedRows(_ weights: [Double]) -> [Double] {
        weights.indices.map { row in
            let length = ratio.offsets[row + 1] - ratio.offsets[row]
            return (0..<length).contains { counts(row: row, token: $0) } ? weights[row] : 0
        }
    }
}
