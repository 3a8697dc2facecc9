#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The KL of whole completions, exactly: the tiny policy is small enough to list every completion
/// of a prompt with its probability under pi_theta and pi_ref. Lesson 06.
public struct SequenceKL: Sendable {
    /// KL(pi_theta || pi_ref) of whole completions: sum_o pi(o) log(pi(o) / pi_ref(o)).
    public var kl: Double
    /// The first position's KL alone, KL(pi_theta(. | q) || pi_ref(. | q)) at t = 0.
    public var firstPositionKL: Double
    /// The first position's next-token probabilities under pi_theta.
    public var firstTokenProbability: [Double]
    /// d KL / d z_v for the first position's logits z (one per token): the exact gradient of
    /// the sequence KL, E_o[d log pi(o_0) / d z_v * log(pi(o) / pi_ref(o))].
    public var sequenceGradient: [Double]
    /// The gradient of the first position's KL with the prefix held fixed: what the per-token
    /// k2 (and the importance-corrected k3) in the loss send to z in expectation, as their
    /// later tokens' terms do not reach z at all.
    public var perPositionGradient: [Double]
    /// How many completions were listed.
    public var completions: Int
}

extension Policy {
    /// `SequenceKL` of `prompt`'s completions (ending at `endToken` or after `maxLength` tokens)
    /// under this policy against `reference`, at temperature T. The gradient with respect to the
    /// first position's logits z (`promptPosition[prompt][0]`): d log pi(o_0) / d z_v =
    /// (1[o_0 = v] - p_v) / T, and, as E_o[d log pi(o) / d z] = 0,
    ///
    ///     d KL / d z_v = E_o[(d log pi(o_0) / d z_v) * (log pi(o) - log pi_ref(o))]
    ///
    /// where log pi(o) sums every token's log-prob: the later tokens' log-ratios reach z through
    /// the probability of the prefix they follow (the score-function term). Summing per-token
    /// estimates in the loss drops exactly that term: their expected gradient with respect to z
    /// is that of the first position's KL alone.
    public func sequenceKL(prompt: Int, reference: Policy, endToken: Int, maxLength: Int, temperature: Double) -> SequenceKL {
        let p0 = distribution(prompt: prompt, position: 0, previous: startRow, temperature: temperature)
        let q0 = reference.distribution(prompt: prompt, position: 0, previous: reference.startRow, temperature: temperature)
        let v = vocabularySize
        var kl = 0.0, gradient = [Double](repeating: 0, count: v), count = 0
        // Depth-first over prefixes: (first token, position, previous token, log pi, log pi_ref).
        func visit(first: Int, position: Int, previous: Int, logP: Double, logQ: Double) {
            let p = distribution(prompt: prompt, position: position, previous: previous, temperature: temperature)
            let q = reference.distribution(prompt: prompt, position: position, previous: previous, temperature: temperature)
            for token in 0..<v where p[token] > 0 {
                let lp = logP + log(p[token]), lq = logQ + log(q[token])
                let f = position == 0 ? token : first
                if token == endToken || position + 1 == min(maxLength, self.maxLength) {
                    let weight = exp(lp), logRatio = lp - lq
                    kl += weight * logRatio
                    for z in 0..<v { gradient[z] += weight * ((z == f ? 1 : 0) - p0[z]) / temperature * logRatio }
                    count += 1
                } else {
                    visit(first: f, position: position + 1, previous: token, logP: lp, logQ: lq)
                }
            }
        }
        visit(first: 0, position: 0, previous: startRow, logP: 0, logQ: 0)
        // KL of the first position: sum_v p_v log(p_v / q_v); d / d z_u = p_u (log(p_u / q_u) - KL_0) / T.
        let kl0 = p0.indices.reduce(0.0) { $0 + (p0[$1] > 0 ? p0[$1] * log(p0[$1] / q0[$1]) : 0) }
        let perPosition = p0.indices.map { p0[$0] > 0 ? p0[$0] * (log(p0[$0] / q0[$0]) - kl0) / temperature : 0 }
        return SequenceKL(kl: kl, firstPositionKL: kl0, firstTokenProbability: p0, sequenceGradient: gradient,
                          perPositionGradient: perPosition, completions: count)
    }
}
