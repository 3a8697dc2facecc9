extension Breakdown {
    /// The largest |self - other| over the numbers two breakdowns of the same batch compute:
    /// the loss (and the policy loss before the entropy bonus), advantages, ratio, KL, sampler
    /// weight, VESPO's phi, per-token loss, weight, d loss / d logp and every metric. Equal
    /// infinities and two NaNs count as agreeing; a size mismatch, or a quantity or metric one
    /// has and the other lacks, is inf. The group means and stds, and the masks, are compared by
    /// the tests separately. A few 1e-16 means the naive and vectorized paths agree to rounding.
    /// Lesson 12.
    public func maxDifference(from other: Breakdown) -> Double {
        quantities(beside: other).map { Self.difference($0.mine, $0.theirs) }.max() ?? 0
    }

    /// The first quantity (named as in `maxDifference`) whose two versions differ by more than
    /// `relative` times that quantity's own size (its largest |value| in `self`), with the
    /// difference; nil when every quantity agrees. Each quantity gets its own scale: d loss / d
    /// logp is about 1/N per token, so a bound taken from the loss would be N times too loose.
    public func disagreement(with other: Breakdown, relative: Double = 1e-9) -> (quantity: String, difference: Double)? {
        for (name, mine, theirs) in quantities(beside: other) {
            let difference = Self.difference(mine, theirs)
            let scale = mine?.lazy.filter(\.isFinite).map(abs).max() ?? 0
            if !(difference <= relative * scale) && difference != 0 { return (name, difference) }
        }
        return nil
    }

    /// The numbers two breakdowns compute, by name, side by side.
    func quantities(beside other: Breakdown) -> [(name: String, mine: [Double]?, theirs: [Double]?)] {
        var list: [(String, [Double]?, [Double]?)] = [
            ("loss", [loss, policyLoss], [other.loss, other.policyLoss]),
            ("advantages", advantages, other.advantages),
            ("ratio", ratio.values, other.ratio.values),
            ("kl", kl?.values, other.kl?.values),
            ("sampler weight", samplerWeight?.values, other.samplerWeight?.values),
            ("vespo weight", vespoWeight, other.vespoWeight),
            ("per-token loss", perTokenLoss.values, other.perTokenLoss.values),
            // A row without counted tokens weighs nothing, whatever its w_i (verl's 1 / (B (0 + 1e-8))
            // is 1e7-sized, so its last bit would dwarf every real difference).
            ("weight", weightsOfCountedRows(weight), other.weightsOfCountedRows(other.weight)),
            ("regularizer weight", regularizerWeight.map(weightsOfCountedRows), other.regularizerWeight.map(other.weightsOfCountedRows)),
            ("d loss / d logp", gradLogp.values, other.gradLogp.values),
        ]
        for (name, value) in Metrics.names {
            list.append((name, metrics[keyPath: value].map { [$0] }, other.metrics[keyPath: value].map { [$0] }))
        }
        return list
    }

    /// The largest |a - b| of two versions of a quantity: equal values and two NaNs agree; a
    /// size mismatch, NaN against a number, or one side missing is inf.
    static func difference(_ a: [Double]?, _ b: [Double]?) -> Double {
        guard let a, let b else { return (a == nil) == (b == nil) ? 0 : .infinity }
        guard a.count == b.count else { return .infinity }
        var largest = 0.0
        for (u, v) in zip(a, b) where !(u == v || (u.isNaN && v.isNaN)) {
            largest = max(largest, abs(u - v).isNaN ? .infinity : abs(u - v))
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
