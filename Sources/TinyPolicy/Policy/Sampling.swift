import GRPO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One completion as the sampler generated it, with the log-probability the sampler gave each of
/// its tokens (what vLLM reports as `sampler_logp`; equal to pi_old's only without a mismatch).
public struct SampledCompletion: Sendable, Equatable, Codable {
    public var tokens: [Int]
    public var samplerLogp: [Double]
}

extension Policy {
    /// Generates a completion to `prompt`: at each position the sampler's distribution
    ///
    ///     p = softmax( round(logit) / T )       (round: `precision`, identity when exact)
    ///
    /// and one draw u = rng.uniform() in [0, 1) picks the token by inverse CDF: the first v with
    /// u < p_0 + ... + p_v. Generation stops after `endToken` or at `maxLength` tokens (a
    /// truncated completion, with no end token). One uniform per token, taken from our own
    /// `SeededGenerator`, so a seed fixes every sample on every platform. Lessons 01 and 09.
    public func sample(prompt: Int, endToken: Int, maxLength: Int, temperature: Double,
                       precision: SamplerPrecision = .exact, using rng: inout SeededGenerator) -> SampledCompletion {
        Self.sample(prompt: prompt, endToken: endToken, maxLength: min(maxLength, self.maxLength), temperature: temperature,
                    precision: precision, using: &rng) { _ in self }
    }

    /// The same with the sampler's weights chosen token by token: `weights(t)` is the policy that
    /// samples position t (in-flight weight updates, where a completion's later tokens come from
    /// newer weights). The policies share one shape.
    static func sample(prompt: Int, endToken: Int, maxLength: Int, temperature: Double, precision: SamplerPrecision,
                       using rng: inout SeededGenerator, weights: (Int) -> Policy) -> SampledCompletion {
        var tokens: [Int] = []
        var samplerLogp: [Double] = []
        var previous = -1
        for position in 0..<maxLength {
            let policy = weights(position)
            var logits = [Double](repeating: 0, count: policy.vocabularySize)
            var logp = logits
            policy.addLogits(prompt: prompt, position: position, previous: previous < 0 ? policy.startRow : previous, into: &logits)
            if precision != .exact {
                for v in logits.indices { logits[v] = precision.round(logits[v]) }
            }
            _ = logSoftmax(logits, temperature: temperature, into: &logp)
            let token = policy.inverseCDF(logp, rng.uniform())
            tokens.append(token)
            samplerLogp.append(logp[token])
            if token == endToken { break }
            previous = token
        }
        return SampledCompletion(tokens: tokens, samplerLogp: samplerLogp)
    }

    /// The first token whose cumulative probability exceeds u; if rounding leaves the total just
    /// below u, the last token with nonzero probability.
    func inverseCDF(_ logp: [Double], _ u: Double) -> Int {
        var cumulative = 0.0
        var last = 0
        for v in logp.indices {
            let p = exp(logp[v])
            if p > 0 { last = v }
            cumulative += p
            if u < cumulative { return v }
        }
        return last
    }
}
