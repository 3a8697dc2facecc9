extension Breakdown {
    /// How far from 0 the loss may land when its exact value is 0. Two parts, each the usual
    /// a-priori bound of floating-point sums, with u = 2^-53:
    ///
    ///     sum      (n + 8) u sum_it |w_i L_it|              the n weighted per-token losses
    ///                                                      (and the entropy bonus), 8 covering
    ///                                                      each term's own few ulps
    ///     A        sum_it |w_i| r_it dA_i                  each advantage's own rounding,
    ///              dA_i = 4 u (2 |mean_g| / s_g + 2 |A_i|) s_g its divisor (std + eps, or 1)
    ///
    /// A loss whose terms cancel on paper (on-policy `grpo`: minus the mean advantage, 0) comes
    /// out as a few times 1e-17 instead: below this bound that is rounding, not data.
    public var lossRoundingBound: Double {
        var total = abs(entropyBonus?.value ?? 0)
        var fromAdvantages = 0.0
        var terms = 0
        for i in 0..<perTokenLoss.rowCount {
            // With the KL weighed apart (`policy_agg_mode`), the larger weight bounds both parts.
            let w = max(abs(weight[i]), abs(regularizerWeight?[i] ?? 0))
            let ratios = ratio[i].reduce(0) { $0 + abs($1) }
            for value in perTokenLoss[i] {
                total += abs(w * value)
                terms += 1
            }
            fromAdvantages += abs(weight[i]) * ratios * advantageRoundingBound(row: i)
        }
        return Self.sumRoundingBound(terms: terms, magnitude: total) + fromAdvantages
    }

    /// The a-priori rounding bound of a sum of `terms` numbers whose magnitudes add to
    /// `magnitude`: (terms + 8) u magnitude, u = 2^-53 (the 8 for each term's own few ulps).
    public static func sumRoundingBound(terms: Int, magnitude: Double) -> Double {
        Double(terms + 8) * 0x1p-53 * magnitude
    }

    /// True when the loss is not exactly 0 but within `lossRoundingBound` of it.
    public var lossIsRoundingNoise: Bool {
        loss != 0 && abs(loss) <= lossRoundingBound
    }

    /// dA_i above: 0 when the batch gave its advantages (they are inputs, exact).
    private func advantageRoundingBound(row i: Int) -> Double {
        let u = 0x1p-53
        let g = groupAndIndex(i).group
        guard g < groupMean.count, g < groupStd.count else { return 0 }
        let divisor = config.scaleRewards == .none || !groupStd[g].isFinite ? 1 : groupStd[g] + config.stdEpsilon
        guard divisor > 0 else { return 0 }
        return 4 * u * (2 * abs(groupMean[g]) / divisor + 2 * abs(advantages[i]))
    }
}
