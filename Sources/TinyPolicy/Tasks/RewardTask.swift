/// A task with a verifiable outcome reward: prompts, a vocabulary of named tokens (the last one
/// ends a completion), and a rule that scores a whole completion with a number in [0, 1], 1 for a
/// fully correct answer. No learned reward model: the reward is checked, as for math answers in
/// DeepSeekMath and R1. Lesson 02 (rewards become advantages).
public protocol RewardTask: Sendable {
    /// The name used to pick the task (`task copy`).
    var name: String { get }
    /// One line: what a correct answer is and how it is scored.
    var summary: String { get }
    /// One line: what the task lets a learner see, and in which lesson.
    var shows: String { get }
    /// Token names: token k prints as `tokens[k]`. The last token is the end of sequence.
    var tokens: [String] { get }
    /// Prompts as a person reads them; the policy knows a prompt only by its index.
    var prompts: [String] { get }
    /// r(q, o): the outcome reward of a completion (token indices, the end token included when
    /// it was generated) to prompt `prompt`.
    func reward(prompt: Int, completion: [Int]) -> Double
    /// A completion with reward 1.
    func solution(prompt: Int) -> [Int]
    /// E_{o ~ pi(.|q)}[ r(q, o) ] at temperature T, exactly (no sampling). Lesson 16.
    func expectedReward(_ policy: Policy, prompt: Int, temperature: Double) -> Double
}

extension RewardTask {
    public var vocabularySize: Int { tokens.count }
    /// The end-of-sequence token: the last one.
    public var endToken: Int { tokens.count - 1 }

    /// The expected reward over the prompts (drawn uniformly, as the trainer draws them).
    public func expectedReward(_ policy: Policy, temperature: Double) -> Double {
        prompts.indices.reduce(0) { $0 + expectedReward(policy, prompt: $1, temperature: temperature) } / Double(prompts.count)
    }

    /// The completion as token names separated by spaces, e.g. `b c a <eos>`.
    public func render(_ completion: [Int]) -> String {
        completion.map { tokens[$0] }.joined(separator: " ")
    }
}

/// Every task, by name. `copy` is the default.
public enum TaskCatalog {
    public static let all: [any RewardTask] = [CopyTask(), SumTask(), LockTask()]

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) -> (any RewardTask)? {
        all.first { $0.name == name }
    }
}
