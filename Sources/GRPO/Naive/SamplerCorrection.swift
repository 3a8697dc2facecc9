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
    ///     rho   = exp(sum_t (old_logp_t - sampler_logp_t))   per completion (a product, not GSPO's mean,
    ///                                                         over the tokens the loss counts)
    ///
    /// then truncated (clamped into [C_min, C_max]) or masked (0 outside them), per
    /// `vllm_importance_sampling_mode`. The weight multiplies the policy term and carries no
    /// gradient (VESPO folds it into its own weight instead). Lesson 09.
    public static func samplerWeights(oldLogp: [Double], samplerLogp: [Double], counted: [Bool],
                                      config: GRPOConfig) -> [Double] {
        var weights: [Double] = []
        switch config.vllmImportanceSamplingMode {
        case .tokenTruncate, .tokenMask:
            for t in oldLogp.indices {
                weights.append(boundedSamplerWeight(exp(oldLogp[t] - samplerLogp[t]), config: config))
            }
        case .sequenceTruncate, .sequenceMask:
            let w = sequenceSamplerWeight(oldLogp: oldLogp, samplerLogp: samplerLogp, counted: counted, config: config)
            for _ in oldLogp.indices { weights.append(w) }
        }
        return weights
    }

    /// The sequence modes' one weight of a completion, bounded(exp(sum_t old_logp_t - sampler_logp_t))
    /// over its counted tokens (bounded(1) for a completion without any).
    public static func sequenceSamplerWeight(oldLogp: [Double], samplerLogp: [Double], counted: [Bool],
                                             config: GRPOConfig) -> Double {
        var logRho = 0.0
        for t in oldLogp.indices where counted[t] { logRho += oldLogp[t] - samplerLogp[t] }
        return boundedSamplerWeight(exp(logRho), config: config)
    }

    /// rho held to [C_min, C_max]: clamped (truncate modes, as torch.clamp) or 0 outside
    /// (mask modes). A missing bound is no bound.
    public static func boundedSamplerWeight(_ rho: Double, config: GRPOConfig) -> Double {
        let low = config.vllmImportanceSamplingClipMin ?? -.infinity, high = config.vllmImportanceSamplingClipMax ?? .infinity
        switch config.vllmImportanceSamplingMode {
        case .tokenTruncate, .sequenceTruncate: return min(max(rho, low), high)
        case .tokenMask, .sequenceMask: return rho < low || rho > high ? 0 : rho
        }
    }
}
