extension Naive {
    /// The entropy bonus, subtracted from the loss to keep the policy from collapsing:
    ///
    ///     bonus = entropy_coef * (sum of H_t over the tokens the policy term acts on) / (their number)
    ///
    /// "acts on": the tokens the loss counts, and only the high-entropy ones when
    /// `top_entropy_quantile` < 1. It is a mean whatever `loss_type` aggregates (TRL's rule), so
    /// `entropy_coef` means the same under every loss type. In a batch the entropies are data:
    /// the bonus has no gradient with respect to logp (the tiny policy sends d loss / d H_t,
    /// `Breakdown.entropyGradient`, back through its logits). Lesson 05.
    public static func entropyBonus(entropy: [[Double]], acting: [[Bool]], coefficient: Double) -> EntropyBonus {
        var sum = 0.0, count = 0
        for (row, keep) in zip(entropy, acting) {
            for t in row.indices where keep[t] {
                sum += row[t]
                count += 1
            }
        }
        return EntropyBonus(coefficient: coefficient, entropy: sum / Double(max(count, 1)), tokens: count)
    }

    /// verl's entropy term (`entropy_aggregation` loss_agg_mode): the entropies of the tokens the
    /// loss counts, aggregated exactly as the per-token losses are (`aggregate`),
    ///
    ///     bonus = entropy_coef * sum_i w_i sum_t H_it        (w_i: `tokenWeight`)
    ///
    /// so under token-sum it is a sum, under seq-mean-token-mean a mean of row means. Data here,
    /// as in `entropyBonus`. Lesson 14.
    public static func aggregatedEntropyBonus(entropy: [[Double]], counted: [[Bool]], config: GRPOConfig) -> EntropyBonus {
        var rows: [[Scalar]] = []
        for (row, keep) in zip(entropy, counted) {
            var kept: [Scalar] = []
            for t in row.indices where keep[t] { kept.append(Scalar(row[t])) }
            rows.append(kept)
        }
        return EntropyBonus(coefficient: config.entropyCoef, entropy: aggregate(rows, aggregation: config.aggregation, config: config).value,
                            tokens: rows.reduce(0) { $0 + $1.count })
    }
}
