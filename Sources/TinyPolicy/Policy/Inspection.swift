#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Views for printing the policy: its tables, a next-token distribution, its most likely answer.
extension Policy {
    /// `promptPosition[prompt]`: one row per position, one column per token.
    public func promptPositionTable(prompt: Int) -> [[Double]] {
        (0..<maxLength).map { t in
            let start = promptPositionIndex(prompt: prompt, position: t, token: 0)
            return Array(parameters[start..<(start + vocabularySize)])
        }
    }

    /// `previous`: one row per previous token, then the start row; one column per token.
    public var previousTable: [[Double]] {
        (0...vocabularySize).map { row in
            let start = previousIndex(previous: row, token: 0)
            return Array(parameters[start..<(start + vocabularySize)])
        }
    }

    /// pi(. | q, position, previous) at temperature T: the next-token probabilities.
    public func distribution(prompt: Int, position: Int, previous: Int, temperature: Double) -> [Double] {
        var logp = [Double](repeating: 0, count: vocabularySize)
        _ = logSoftmax(logits(prompt: prompt, position: position, previous: previous), temperature: temperature, into: &logp)
        return logp.map { exp($0) }
    }

    /// The greedy completion (the most likely token at each position, the first on a tie) and its
    /// probability at temperature 1: what the policy "answers" now.
    public func mostLikely(prompt: Int, endToken: Int, maxLength: Int) -> (tokens: [Int], probability: Double) {
        var tokens: [Int] = []
        var logProbability = 0.0
        var previous = startRow
        for position in 0..<min(maxLength, self.maxLength) {
            let p = distribution(prompt: prompt, position: position, previous: previous, temperature: 1)
            var token = 0
            for v in p.indices where p[v] > p[token] { token = v }
            tokens.append(token)
            logProbability += log(p[token])
            if token == endToken { break }
            previous = token
        }
        return (tokens, exp(logProbability))
    }
}
