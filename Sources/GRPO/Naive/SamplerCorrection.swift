#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Naive {
    /// The truncated importance weight that corrects for a sampler that is not exactly pi_old
    /// (vLLM computes log-probs with other kernels and precision than the trainer):
    ///
    ///     rho_t = exp(old_logp_t - sampler_logp_t)           per token
    ///     rho   = exp(sum_t (old_logp_t - sampler_logp_t))   per completion (a product, not GSPO's mean)
    ///
    /// then truncated (min(., cap)) or masked (0 above cap), per `vllm_importance_sampling_mode`.
    /// The weight multiplies the policy term and carries no gradient. Lesson 08.
    public static func samplerWeights(oldLogp: [Double], samplerLogp: [Double], config: GRPOConfig) -> [Double] {
        let cap = config.vllmImportanceSamplingCap
        var weights: [Double] = []
        switch config.vllmImportanceSamplingMode {
        case .tokenTruncate, .tokenMask:
            for t in oldLogp.indices {
                let rho = exp(oldLogp[t] - samplerLogp[t])
                if config.vllmImportanceSamplingMode == .tokenTruncate {
                    weights.append(min(rho, cap))
                } else {
                    weights.append(rho > cap ? 0 : rho)
                }
            }
        case .sequenceTruncate, .sequenceMask:
            var logRho = 0.0
            for t in oldLogp.indices { logRho += oldLogp[t] - samplerLogp[t] }
            let rho = exp(logRho)
            let w = config.vllmImportanceSamplingMode == .sequenceTruncate ? min(rho, cap) : (rho > cap ? 0 : rho)
            for _ in oldLogp.indices { weights.append(w) }
        }
        return weights
    }
}
