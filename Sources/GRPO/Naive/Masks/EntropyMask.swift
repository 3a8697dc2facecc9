extension Naive {
    /// The entropy above which a token counts as a "forking token": the (1 - rho) quantile of the
    /// entropies of the tokens the loss counts, rho = `top_entropy_quantile`. TRL takes it with
    /// `torch.quantile` on float32 values; `TorchRules.quantile` rounds exactly as that does, so
    /// the threshold is TRL's to the last bit. Lesson 11.
    public static func entropyThreshold(entropies: [[Double]], counted: [[Bool]], topQuantile rho: Double,
                                        rank: GRPOConfig.QuantileRank) -> Double {
        var values: [Float] = []
        for (row, keep) in zip(entropies, counted) {
            for t in row.indices where keep[t] { values.append(Float(row[t])) }
        }
        guard !values.isEmpty else { return 0 }
        values.sort()
        return Double(TorchRules.quantile(sorted: values, Float(1 - rho), rank: rank))
    }

    /// Keep the policy term at a token when its entropy >= the threshold, compared in float32 as
    /// TRL compares a model's float32 entropies (a token whose entropy is the threshold is kept).
    /// The KL term is not masked.
    public static func entropyMask(entropy: Double, threshold: Double) -> Bool {
        Float(entropy) >= Float(threshold)
    }
}
