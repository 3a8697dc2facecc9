/// Rules of the reference libraries' numerics that both loss paths follow to the last bit, so
/// they live here rather than on either path. Each is checked against golden values computed by
/// torch or TRL themselves (`GoldenTests`, `EntropyMaskTests`), not by comparing the two paths.
public enum TorchRules {
    /// torch.quantile's linear interpolation of float32 values as its CPU kernel computes it:
    ///
    ///     rank = q (n - 1);  lo = floor(rank), hi = ceil(rank), w = rank - lo, d = v[hi] - v[lo]
    ///     quantile = w < 1/2 ? v[lo] + w d : v[hi] - (1 - w) d       (float32, fused multiply-adds)
    ///
    /// q is float32 (torch makes it a tensor of the input's dtype). torch 2.15 takes the rank in
    /// float64 and rounds w to float32; torch 2.13 took it in float32 (`GRPOConfig.QuantileRank`).
    /// The two differ when the rank is near a whole number: (1 - 0.7) * 10 is exactly 3 in float32,
    /// 3.0000001192 from the float32 0.3 in float64. `v` is sorted and not empty. Lesson 11.
    public static func quantile(sorted v: [Float], _ q: Float, rank precision: GRPOConfig.QuantileRank) -> Float {
        let lo: Int, hi: Int, w: Float
        switch precision {
        case .float64:
            let rank = Double(q) * Double(v.count - 1)
            (lo, hi) = (Int(rank.rounded(.down)), min(Int(rank.rounded(.up)), v.count - 1))
            w = Float(rank - Double(lo))
        case .float32:
            let rank = q * Float(v.count - 1)
            (lo, hi) = (Int(rank.rounded(.down)), min(Int(rank.rounded(.up)), v.count - 1))
            w = rank - Float(lo)
        }
        let d = v[hi] - v[lo]
        return w < 0.5 ? v[lo].addingProduct(w, d) : v[hi].addingProduct(-d, 1 - w)
    }

    /// The smallest double whose float32 rounding is >= `threshold` (a float32 value): comparing
    /// doubles with it is the float32 comparison `Float(x) >= Float(threshold)`, which lets a
    /// vectorized loop compare doubles directly.
    public static func float32Cut(_ threshold: Double) -> Double {
        let t = Float(threshold)
        // Doubles above the midpoint between t's float32 neighbour below and t round to t or
        // above; the midpoint itself rounds to whichever of the two is even.
        let midpoint = (Double(t.nextDown) + Double(t)) / 2
        return Float(midpoint) >= t ? midpoint : midpoint.nextUp
    }

    /// True when a std counts as zero (TRL: `torch.isclose(std, 0)`, i.e. std <= 1e-8). Such a
    /// group gets A = 0 everywhere (our rule; TRL divides anyway) and is counted in
    /// `frac_reward_zero_std`. Lesson 02.
    public static func isZeroStd(_ std: Double) -> Bool { std <= 1e-8 }
}
