extension Naive {
    /// The entropy above which a token counts as a "forking token": the (1 - rho) quantile of the
    /// entropies of all tokens in the batch, rho = `top_entropy_quantile`. TRL takes it with
    /// `torch.quantile` on float32 values; `torchQuantile` rounds exactly as that does, so the
    /// threshold is TRL's to the last bit. Lesson 09.
    public static func entropyThreshold(entropies: [[Double]], topQuantile rho: Double) -> Double {
        var values: [Float] = []
        for row in entropies {
            for e in row { values.append(Float(e)) }
        }
        guard !values.isEmpty else { return 0 }
        values.sort()
        return Double(torchQuantile(sorted: values, Float(1 - rho)))
    }

    /// torch.quantile's linear interpolation as its CPU kernel computes it in float32:
    ///
    ///     rank = q (n - 1);  lo = floor(rank), hi = ceil(rank), w = rank - lo, d = v[hi] - v[lo]
    ///     quantile = w < 1/2 ? v[lo] + w d : v[hi] - (1 - w) d       (each a fused multiply-add)
    ///
    /// Computing the rank in double instead can put it a hair past a whole number (0.3 * 10 =
    /// 3.0000000000000004) and the result a step above the value torch returns.
    static func torchQuantile(sorted v: [Float], _ q: Float) -> Float {
        let rank = q * Float(v.count - 1)
        let lo = Int(rank.rounded(.down)), hi = min(Int(rank.rounded(.up)), v.count - 1)
        let w = rank - Float(lo)
        let d = v[hi] - v[lo]
        return w < 0.5 ? v[lo].addingProduct(w, d) : v[hi].addingProduct(-d, 1 - w)
    }

    /// Keep the policy term at a token when its entropy >= the threshold, compared in float32 as
    /// TRL compares a model's float32 entropies (a token whose entropy is the threshold is kept).
    /// The KL term is not masked.
    public static func entropyMask(entropy: Double, threshold: Double) -> Bool {
        Float(entropy) >= Float(threshold)
    }

    /// The smallest double whose float32 rounding is >= `threshold` (a float32 value): comparing
    /// doubles with it is `entropyMask`'s float32 comparison, which the vectorized kernel uses.
    public static func float32Cut(_ threshold: Double) -> Double {
        let t = Float(threshold)
        // Doubles above the midpoint between t's float32 neighbour below and t round to t or
        // above; the midpoint itself rounds to whichever of the two is even.
        let midpoint = (Double(t.nextDown) + Double(t)) / 2
        return Float(midpoint) >= t ? midpoint : midpoint.nextUp
    }
}
