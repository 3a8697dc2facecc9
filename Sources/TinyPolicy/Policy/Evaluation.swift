#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-token numbers of some completions under one policy, completions back to back (row i at
/// `offsets[i] ..< offsets[i+1]`, the layout of `Ragged` and `FlatBatch`).
public struct PolicyEvaluation: Sendable, Equatable {
    /// B + 1 row starts.
    public var offsets: [Int]
    /// log pi(o_t | q, o_<t) of each token that was generated.
    public var logp: [Double]
    /// H(pi(. | q, o_<t)) at each position.
    public var entropy: [Double]
    /// pi(v | q, o_<t) for every v, vocabularySize values per token; kept only when asked (the
    /// current policy's, for `Policy.gradient`), empty otherwise.
    public var probabilities: [Double]
}

extension Policy {
    /// Scores completions: log-probability and entropy at every token, at temperature T.
    /// `prompts[i]` is the prompt of `completions[i]`. Token t of a completion is scored given the
    /// prompt, its position t and the token before it (the start row at t = 0). Lesson 01.
    public func evaluate(prompts: [Int], completions: [[Int]], temperature: Double,
                         keepProbabilities: Bool = false) -> PolicyEvaluation {
        var offsets = [0]
        offsets.reserveCapacity(completions.count + 1)
        for c in completions { offsets.append(offsets[offsets.count - 1] + c.count) }
        let n = offsets[offsets.count - 1]
        var logp = [Double](repeating: 0, count: n)
        var entropy = [Double](repeating: 0, count: n)
        var probabilities = [Double](repeating: 0, count: keepProbabilities ? n * vocabularySize : 0)
        var logits = [Double](repeating: 0, count: vocabularySize)
        var row = [Double](repeating: 0, count: vocabularySize)
        for (i, completion) in completions.enumerated() {
            var previous = startRow
            for (t, token) in completion.enumerated() {
                let j = offsets[i] + t
                addLogits(prompt: prompts[i], position: t, previous: previous, into: &logits)
                entropy[j] = logSoftmax(logits, temperature: temperature, into: &row)
                logp[j] = row[token]
                if keepProbabilities {
                    for v in 0..<vocabularySize { probabilities[j * vocabularySize + v] = exp(row[v]) }
                }
                previous = token
            }
        }
        return PolicyEvaluation(offsets: offsets, logp: logp, entropy: entropy, probabilities: probabilities)
    }
}

extension PolicyEvaluation {
    /// A flat per-token array (`logp`, `entropy`) cut into one array per completion.
    public func rows(_ values: [Double]) -> [[Double]] {
        (0..<(offsets.count - 1)).map { Array(values[offsets[$0]..<offsets[$0 + 1]]) }
    }
}
