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
        return EntropyBonus(coefficient: coefficient, meanEntropy: sum / Double(max(count, 1)), tokens: count)
    }
}
