/// Copy three letters, with partial credit: the reward is the share of the four positions
/// (three letters, then the end token) that are right,
///
///     r = #{ t < 4 : o_t = target_t } / 4,    target = the prompt's letters + <eos>
///
/// so it takes the values 0, 0.25, 0.5, 0.75 and 1. Tokens after the fourth are ignored (the
/// fourth is then a letter, not <eos>, and scores 0). Nearly every group has rewards that differ,
/// so nearly every group teaches something: the default task, learned reliably by the default
/// settings. Lessons 01-06.
public struct CopyTask: RewardTask {
    public let name = "copy"
    public let summary = "copy the 3 letters, then <eos>; reward = share of the 4 positions right (partial credit)"
    public let shows = "partial credit: rewards differ in almost every group, so learning is steady (lessons 01-06)"
    public let tokens = ["a", "b", "c", "<eos>"]
    public let prompts = ["abc", "acb", "bac", "bca", "cab", "cba"]
    /// Each prompt's letters as tokens, then <eos>.
    let targets: [[Int]]

    public init() {
        let tokens = self.tokens
        targets = prompts.map { prompt in prompt.map { tokens.firstIndex(of: String($0))! } + [tokens.count - 1] }
    }

    public func solution(prompt: Int) -> [Int] { targets[prompt] }

    public func reward(prompt: Int, completion: [Int]) -> Double {
        let target = targets[prompt]
        var right = 0
        for t in 0..<min(completion.count, target.count) where completion[t] == target[t] { right += 1 }
        return Double(right) / Double(target.count)
    }

    /// E[r] = sum_t P(o_t = target_t) / 4: the reward is a sum over positions, so its expectation
    /// is the sum of each position's chance (`Policy.expectedMatches`).
    public func expectedReward(_ policy: Policy, prompt: Int, temperature: Double) -> Double {
        let target = targets[prompt]
        return policy.expectedMatches(target, prompt: prompt, endToken: endToken, temperature: temperature) / Double(target.count)
    }
}
