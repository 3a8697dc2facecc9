#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Naive {
    /// VESPO's (k, lambda) for a completion: `vespo_k_pos`, `vespo_lambda_pos` where A >= 0, the
    /// `_neg` pair otherwise; lambda at least 1e-4, as TRL clamps it.
    public static func vespoParameters(advantage: Double, config: GRPOConfig) -> (k: Double, lambda: Double) {
        advantage >= 0 ? (config.vespoKPos, max(config.vespoLambdaPos, 1e-4))
                       : (config.vespoKNeg, max(config.vespoLambdaNeg, 1e-4))
    }

    /// log w of one completion: the log of its sequence ratio, a product (not GSPO's mean),
    ///
    ///     log w = clamp( sum_t clamp(logp_t - old_logp_t, -20, 20)
    ///                    + sum_t clamp(log samplerWeight_t, log 1e-8, 20),   (sampler correction on)
    ///                    log 1e-8, 20 )
    ///
    /// over the tokens the loss counts. With the sampler correction the per-token sampler weights
    /// are folded in here rather than multiplied into the policy term. Lesson 05.
    public static func vespoLogWeight(logp: [Scalar], oldLogp: [Double], counted: [Bool],
                                      samplerWeights: [Double]?) -> Scalar {
        var terms: [Scalar] = []
        for t in logp.indices where counted[t] {
            terms.append(Scalar.clamp(logp[t] - oldLogp[t], min: -20, max: 20))
            if let samplerWeights { terms.append(Scalar(vespoSamplerLogWeight(samplerWeights[t]))) }
        }
        return Scalar.clamp(Scalar.sum(terms), min: log(1e-8), max: 20)
    }

    /// One token's sampler weight in logs, clamp(log w_t, log 1e-8, 20): a weight the mask modes
    /// set to 0 counts as 1e-8.
    static func vespoSamplerLogWeight(_ w: Double) -> Double { min(max(log(w), log(1e-8)), 20) }

    /// VESPO's gamma weight of a completion, detached:
    ///
    ///     phi(w) = exp(lambda + k log w - lambda w)        phi(1) = 1
    ///
    /// It grows like w^k for small w and decays like e^(-lambda w) for large w, so a completion far
    /// off-policy either way weighs little. 0 where it overflows (TRL's nan_to_num). Lesson 05.
    public static func vespoWeight(logWeight logW: Scalar, advantage: Double, config: GRPOConfig) -> Scalar {
        let (k, lambda) = vespoParameters(advantage: advantage, config: config)
        let phi = Scalar.exp((logW * k + lambda) - Scalar.exp(logW) * lambda)
        return Scalar.detached(phi.value.isFinite ? phi : Scalar(0))
    }

    /// VESPO (Variational Sequence-level Soft Policy Optimization), one token, objective sign:
    ///
    ///     sg(phi(w_i)) * A * logp          d / d logp = phi(w_i) * A
    ///
    /// Lesson 05.
    public static func vespoObjective(logp: Scalar, advantage: Double, weight phi: Scalar) -> Scalar {
        (phi * advantage) * logp
    }
}
