extension Policy {
    /// d loss / d theta from d loss / d logp: the last link of the chain policy -> logp -> loss.
    ///
    /// With z = logit / T and logp_t = z[o_t] - log sum_v exp(z_v), for every token v:
    ///
    ///     d logp_t / d logit_v = (onehot(o_t)_v - p_v) / T
    ///
    /// and a logit is the sum of one `promptPosition` entry and one `previous` entry, so each gets
    ///
    ///     d loss / d theta += (d loss / d logp_t) * (onehot(o_t)_v - p_v) / T
    ///
    /// summed over every token that used it. `gradLogp` is the Breakdown's `gradLogp.values`
    /// (rows in the order of `completions`); `evaluation` is this policy's own, with
    /// probabilities kept. Lesson 01.
    public func gradient(prompts: [Int], completions: [[Int]], evaluation: PolicyEvaluation,
                         gradLogp: [Double], temperature: Double) -> [Double] {
        precondition(evaluation.probabilities.count == gradLogp.count * vocabularySize,
                     "evaluate with keepProbabilities: true, on the same completions")
        var gradient = [Double](repeating: 0, count: parameters.count)
        for (i, completion) in completions.enumerated() {
            var previous = startRow
            for (t, token) in completion.enumerated() {
                let j = evaluation.offsets[i] + t
                let g = gradLogp[j] / temperature
                let a = promptPositionIndex(prompt: prompts[i], position: t, token: 0)
                let b = previousIndex(previous: previous, token: 0)
                for v in 0..<vocabularySize {
                    let onehot = v == token ? 1.0 : 0.0
                    let d = g * (onehot - evaluation.probabilities[j * vocabularySize + v])
                    gradient[a + v] += d
                    gradient[b + v] += d
                }
                previous = token
            }
        }
        return gradient
    }
}
