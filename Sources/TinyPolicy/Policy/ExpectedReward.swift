/// E_{o ~ pi_theta(.|q)}[ r(q, o) ], computed exactly from the policy's tables rather than
/// estimated from samples: the quality of the trained theta itself, free of sampling noise, and
/// of the sampler's lag when the sampler is stale (a stale sampler's completions score the
/// weights of k updates ago; this scores theta). Lesson 16.
extension Policy {
    /// The probability of generating exactly `completion` (its end token included) at
    /// temperature T: prod_t pi(o_t | q, o_<t). 0 when it is longer than the policy's positions.
    public func probability(of completion: [Int], prompt: Int, temperature: Double) -> Double {
        guard completion.count <= maxLength else { return 0 }
        var p = 1.0
        var previous = startRow
        for (t, token) in completion.enumerated() {
            p *= distribution(prompt: prompt, position: t, previous: previous, temperature: temperature)[token]
            previous = token
        }
        return p
    }

    /// sum_t P(o_t = target_t): the expected number of positions t < |target| where the completion
    /// holds target's token (a position after the end token holds none). Forward over the previous
    /// token, the only state the policy has:
    ///
    ///     alive_0(start) = 1
    ///     P(o_t = v)     = sum_u alive_t(u) pi(v | q, t, u)
    ///     alive_{t+1}(v) = P(o_t = v)  for v != end,   the end token stops the completion
    public func expectedMatches(_ target: [Int], prompt: Int, endToken: Int, temperature: Double) -> Double {
        var alive = [Double](repeating: 0, count: vocabularySize + 1)
        alive[startRow] = 1
        var matches = 0.0
        for t in 0..<min(target.count, maxLength) {
            var next = [Double](repeating: 0, count: vocabularySize + 1)
            for u in alive.indices where alive[u] > 0 {
                let p = distribution(prompt: prompt, position: t, previous: u, temperature: temperature)
                matches += alive[u] * p[target[t]]
                for v in p.indices where v != endToken { next[v] += alive[u] * p[v] }
            }
            alive = next
        }
        return matches
    }
}
