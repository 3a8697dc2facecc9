extension Naive {
    /// The entropy above which a token counts as a "forking token": the (1 - rho) quantile of the
    /// entropies of all tokens in the batch, rho = `top_entropy_quantile`, with linear
    /// interpolation between neighbours (torch.quantile). Like TRL, the quantile is taken on
    /// float32 values, so a token exactly at the threshold compares as TRL's does. Lesson 09.
    public static func entropyThreshold(entropies: [[Double]], topQuantile rho: Double) -> Double {
        var values: [Float] = []
        for row in entropies {
            for e in row { values.append(Float(e)) }
        }
        guard !values.isEmpty else { return 0 }
        values.sort()
        let position = (1 - rho) * Double(values.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, values.count - 1)
        let fraction = Float(position - Double(below))
        let threshold = values[below] + fraction * (values[above] - values[below])
        return Double(threshold)
    }

    /// Keep the policy term at a token when its entropy >= the threshold. The KL term is not masked.
    public static func entropyMask(entropy: Double, threshold: Double) -> Bool {
        entropy >= threshold
    }
}
