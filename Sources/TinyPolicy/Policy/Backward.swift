#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Policy {
    /// d loss / d theta from d loss / d logp (and d loss / d H): the last link of the chain
    /// policy -> logp, entropy -> loss.
    ///
    /// With z = logit / T, p = softmax(z), logp_t = z[o_t] - log sum_v exp(z_v) and the entropy
    /// H_t = -sum_v p_v log p_v, for every token v:
    ///
    ///     d logp_t / d logit_v = (onehot(o_t)_v - p_v) / T
    ///     d H_t / d logit_v    = -p_v (log p_v + H_t) / T
    ///
    /// and a logit is the sum of one `promptPosition` entry and one `previous` entry, so each gets
    ///
    ///     d loss / d theta += (d loss / d logp_t) (onehot(o_t)_v - p_v) / T
    ///                         - (d loss / d H_t) p_v (log p_v + H_t) / T
    ///
    /// summed over every token that used it. `gradLogp` is the Breakdown's `gradLogp.values`
    /// (rows in the order of `completions`), `gradEntropy` its `entropyGradient` when the loss has
    /// an entropy bonus; `evaluation` is this policy's own, with probabilities kept. Lessons 01, 05.
    public func gradient(prompts: [Int], completions: [[Int]], evaluation: PolicyEvaluation,
                         gradLogp: [Double], gradEntropy: [Double]? = nil, temperature: Double) -> [Double] {
        precondition(evaluation.probabilities.count == gradLogp.count * vocabularySize,
                     "evaluate with keepProbabilities: true, on the same completions")
        var gradient = [Double](repeating: 0, count: parameters.count)
        for (i, completion) in completions.enumerated() {
            var previous = startRow
            for (t, token) in completion.enumerated() {
                let j = evaluation.offsets[i] + t
                let g = gradLogp[j] / temperature
                let gH = (gradEntropy?[j] ?? 0) / temperature
                let h = evaluation.entropy[j]
                let a = promptPositionIndex(prompt: prompts[i], position: t, token: 0)
                let b = previousIndex(previous: previous, token: 0)
                for v in 0..<vocabularySize {
                    let p = evaluation.probabilities[j * vocabularySize + v]
                    let onehot = v == token ? 1.0 : 0.0
                    var d = g * (onehot - p)
                    // p log p -> 0 as p -> 0: a token the policy gives no mass adds nothing.
                    if gH != 0 && p > 0 { d -= gH * p * (log(p) + h) }
                    gradient[a + v] += d
                    gradient[b + v] += d
                }
                previous = token
            }
        }
        return gradient
    }
}
