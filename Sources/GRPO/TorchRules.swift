/// Rules of the reference libraries' numerics that both loss paths follow to the last bit, so
/// they live here rather than on either path. Each is checked against golden values computed by
/// torch or TRL themselves (`GoldenTests`, `EntropyMaskTests`), not by comparing the two paths.
public enum TorchRules {
    /// torch.quantile's linear interpolation as its CPU kernel computes it in float32:
    ///
    ///     rank = q (n - 1);  lo = floor(rank), hi = ceil(rank), w = rank - lo, d = v[hi] - v[lo]
    ///     quantile = w < 1/2 ? v[lo] + w d : v[hi] - (1 - w) d       (each a fused multiply-add)
    ///
    /// Computing the rank in double instead can put it a hair past a whole number (0.3 * 10 =
    /// 3.0000000000000004) and the result a step above the value torch returns. `v` is sorted
    /// and not empty. Lesson 10.
    public static func quantile(sorted v: [Float], _ q: Float) -> Float {
        let rank = q * Float(v.count - 1)
        let lo = Int(rank.rounded(.down)), hi = min(Int(rank.rounded(.up)), v.count - 1)
        let w = rank - Float(lo)
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
