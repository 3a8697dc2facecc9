/// pi_theta: an autoregressive softmax policy small enough to print.
///
/// A completion o = (o_0, o_1, ...) to prompt q is generated one token at a time. The logits of
/// token v at position t are the sum of two learned tables:
///
///     logit(v | q, t, o_{t-1}) = promptPosition[q][t][v] + previous[o_{t-1}][v]
///
/// `promptPosition` lets the policy learn any answer to any prompt; `previous` (indexed by the
/// previous token, or by the start row `vocabularySize` at t = 0) makes it autoregressive and is
/// shared by every prompt, so an update made for one prompt also moves the others, as the shared
/// weights of a real model do. With temperature T (applied to the logits before the softmax, as
/// TRL does in training too):
///
///     pi_theta(v | q, o_<t) = softmax(logit / T)[v]
///
/// All parameters live in one flat array (`parameters`) so the optimizer and save/load see a plain
/// vector; `promptPositionIndex` and `previousIndex` are the named views into it. Every parameter
/// starts at 0: every token equally likely. Lesson 01.
public struct Policy: Sendable, Equatable, Codable {
    /// Number of tokens, the end-of-sequence token included.
    public let vocabularySize: Int
    public let promptCount: Int
    /// Positions the policy has a row for: the longest completion it can produce.
    public let maxLength: Int
    /// theta: `promptPosition` (promptCount * maxLength * vocabularySize values), then `previous`
    /// ((vocabularySize + 1) * vocabularySize values).
    public var parameters: [Double]

    public init(vocabularySize: Int, promptCount: Int, maxLength: Int) {
        precondition(vocabularySize >= 2 && promptCount >= 1 && maxLength >= 1, "the policy needs 2 tokens, 1 prompt, 1 position")
        self.vocabularySize = vocabularySize
        self.promptCount = promptCount
        self.maxLength = maxLength
        let count = promptCount * maxLength * vocabularySize + (vocabularySize + 1) * vocabularySize
        parameters = [Double](repeating: 0, count: count)
    }

    /// The row index of the `previous` table used at the first position (no previous token).
    public var startRow: Int { vocabularySize }

    /// Where `promptPosition[prompt][position][token]` lives in `parameters`.
    @inline(__always)
    public func promptPositionIndex(prompt: Int, position: Int, token: Int) -> Int {
        (prompt * maxLength + position) * vocabularySize + token
    }

    /// Where `previous[previousToken][token]` lives in `parameters` (`previousToken` is
    /// `startRow` at position 0).
    @inline(__always)
    public func previousIndex(previous: Int, token: Int) -> Int {
        (promptCount * maxLength + previous) * vocabularySize + token
    }

    /// The logits (before the temperature) of every token after the prefix ending in `previous`
    /// at `position`: the two table rows added up.
    public func logits(prompt: Int, position: Int, previous: Int) -> [Double] {
        var row = [Double](repeating: 0, count: vocabularySize)
        addLogits(prompt: prompt, position: position, previous: previous, into: &row)
        return row
    }

    /// Writes the logits into `row` (vocabularySize values), the allocation-free form of `logits`.
    @inline(__always)
    func addLogits(prompt: Int, position: Int, previous: Int, into row: inout [Double]) {
        let a = promptPositionIndex(prompt: prompt, position: position, token: 0)
        let b = previousIndex(previous: previous, token: 0)
        for v in 0..<vocabularySize { row[v] = parameters[a + v] + parameters[b + v] }
    }
}
