extension Naive {
    /// GMPO's ratio (verl's `geo_mean`), one per completion: the geometric mean of its token
    /// ratios with each log-ratio x_t = logp_t - old_logp_t clipped on the side A pushes,
    ///
    ///     g_t = min(x_t, clamp(x_t, -eps, eps_high))   A > 0   (no gain above eps_high)
    ///     g_t = max(x_t, clamp(x_t, -eps, eps_high))   A < 0   (no gain below -eps)
    ///     s_i = exp( sum_t g_t / (m_i + 1e-8) )        (g = 0 for A = 0)
    ///
    /// over the m_i tokens the loss counts. The clip acts inside the mean, so one far token moves
    /// s_i by a bounded amount and stops passing a gradient. Lesson 10.
    public static func geoMeanRatio(logp: [Scalar], oldLogp: [Double], counted: [Bool], advantage a: Double,
                                    config: GRPOConfig) -> Scalar {
        var clipped: [Scalar] = []
        for t in logp.indices where counted[t] {
            let x = logp[t] - oldLogp[t]
            let bounded = Scalar.clamp(x, min: -config.epsilon, max: config.resolvedEpsilonHigh)
            if a > 0 { clipped.append(Scalar.minimum(x, bounded)) } else if a < 0 { clipped.append(Scalar.maximum(x, bounded)) }
        }
        return Scalar.exp(Scalar.sum(clipped) / (Double(counted.filter { $0 }.count) + 1e-8))
    }

    /// GMPO's objective of a completion, at each of its tokens (objective sign):
    ///
    ///     A_bar * s_i,   A_bar = A m_i / (m_i + 1e-8)  (verl's token mean of A, `geoMeanAdvantage`)
    ///
    /// with no further clip or min: the bound is inside s_i (`geoMeanRatio`). Aggregated once per
    /// completion (`seq-mean`). Lesson 10.
    public static func geoMeanObjective(ratio: Scalar, advantage a: Double, counted m: Int) -> Scalar {
        ratio * geoMeanAdvantage(a, counted: m)
    }

    /// verl's per-sequence advantage of GMPO, the masked mean A m / (m + 1e-8): A itself up to
    /// its 1e-8, and 0 for a completion without counted tokens.
    static func geoMeanAdvantage(_ a: Double, counted m: Int) -> Double {
        a * Double(m) / (Double(m) + 1e-8)
    }
}
