/// Say a sum as one digit and stop: the only correct answer is `digit <eos>`, 2 tokens; anything
/// else scores 0. A wrong answer is usually longer (the policy rambles on before it stops), so
/// correct and incorrect completions differ in length by design:
///
///     r = 1 if o = (a + b, <eos>) else 0
///
/// Under `loss_type=grpo` each completion's loss is divided by its own length, so a long wrong
/// answer is pushed down less per token than a short one, and the wrong answers that survive stay
/// longer; `dapo` and `dr_grpo` weigh every token the same. Measured with beta = 0, default
/// settings otherwise, iterations 50-300: wrong answers average about 2.6 tokens under `grpo`
/// against 2.3 under `dapo` and `dr_grpo`, for each of 8 seeds. At mu = 1 the `grpo` loss is 0
/// (each group's advantages sum to 0) while the `dapo` loss is -sum_i A_i |o_i| / N > 0, as the
/// negative advantages sit on the longer completions. Lesson 07 (length bias).
public struct SumTask: RewardTask {
    public let name = "sum"
    public let summary = "answer a+b with one digit, then <eos>; reward 1 only for exactly that (2 tokens)"
    public let shows = "length bias: correct answers are 2 tokens, wrong ones longer; compare grpo, dapo, dr_grpo (lesson 07)"
    public let tokens = ["0", "1", "2", "3", "<eos>"]
    public let prompts = ["0+1", "1+1", "2+0", "1+2", "0+3", "2+1"]
    /// (a + b, <eos>) for each prompt "a+b": digit d is token d.
    let answers: [[Int]]

    public init() {
        let end = tokens.count - 1
        answers = prompts.map { prompt in [prompt.split(separator: "+").reduce(0) { $0 + Int($1)! }, end] }
    }

    public func solution(prompt: Int) -> [Int] { answers[prompt] }

    public func reward(prompt: Int, completion: [Int]) -> Double {
        completion == answers[prompt] ? 1 : 0
    }

    /// E[r] = pi(solution | q): only the one answer scores, and it scores 1.
    public func expectedReward(_ policy: Policy, prompt: Int, temperature: Double) -> Double {
        policy.probability(of: answers[prompt], prompt: prompt, temperature: temperature)
    }
}
