/// Open a lock: say its 3-letter code, then stop. All or nothing,
///
///     r = 1 if o = code + <eos> else 0
///
/// A first guess is right with probability (1/3)^4, about 1 in 81, so at the start almost every
/// group is all 0: std 0, advantages 0, no policy gradient (`frac_reward_zero_std` near 1).
/// Learning starts with the first group that holds a success, which a larger G makes likelier
/// (1 - (80/81)^G: 9% for G = 8, 33% for G = 32); once the codes are learned, groups are all 1
/// and stop teaching again. Measured over the last 50 of 500 iterations (default settings
/// otherwise, 6 seeds): mean reward about 0.85 with G = 2, 0.95 with G = 8, 0.975 with G = 32.
/// Lesson 02 (zero-variance groups, why larger G helps).
public struct LockTask: RewardTask {
    public let name = "lock"
    public let summary = "say the lock's 3-letter code, then <eos>; reward 1 for exactly that, else 0"
    public let shows = "binary reward: groups all fail (then all succeed), std 0, no signal; larger G helps (lesson 02)"
    public let tokens = ["x", "y", "<eos>"]
    public let prompts = ["lock 1", "lock 2", "lock 3", "lock 4"]
    /// Each lock's code as tokens, then <eos>: xyx, yyx, xxy, yxy.
    let codes: [[Int]] = [[0, 1, 0, 2], [1, 1, 0, 2], [0, 0, 1, 2], [1, 0, 1, 2]]

    public init() {}

    public func solution(prompt: Int) -> [Int] { codes[prompt] }

    public func reward(prompt: Int, completion: [Int]) -> Double {
        completion == codes[prompt] ? 1 : 0
    }

    /// E[r] = pi(solution | q): only the one answer scores, and it scores 1.
    public func expectedReward(_ policy: Policy, prompt: Int, temperature: Double) -> Double {
        policy.probability(of: codes[prompt], prompt: prompt, temperature: temperature)
    }
}
