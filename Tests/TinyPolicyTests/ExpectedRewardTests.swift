import GRPO
import Testing
@testable import TinyPolicy

/// E[r] under theta, computed exactly, against the sum over every completion the policy can
/// generate, P(o) r(o), for random policies on each task.
@Suite("The expected reward, exactly")
struct ExpectedRewardTests {
    /// Every completion of at most `maxLength` tokens: those that end with the end token early,
    /// and those cut at the limit.
    func allCompletions(vocabulary: Int, endToken: Int, maxLength: Int) -> [[Int]] {
        var done: [[Int]] = []
        var open: [[Int]] = [[]]
        for _ in 0..<maxLength {
            var next: [[Int]] = []
            for prefix in open {
                for v in 0..<vocabulary {
                    if v == endToken { done.append(prefix + [v]) } else { next.append(prefix + [v]) }
                }
            }
            open = next
        }
        return done + open
    }

    @Test("sum over all completions of P(o) r(o), every task, at two temperatures", arguments: TaskCatalog.names)
    func matchesEnumeration(_ name: String) {
        let task = TaskCatalog.named(name)!
        var rng = SeededGenerator(seed: 3)
        for maxLength in [3, 5] {
            let shape = Policy(vocabularySize: task.vocabularySize, promptCount: task.prompts.count, maxLength: maxLength)
            let policy = randomPolicy(shape, scale: 1.0, &rng)
            let completions = allCompletions(vocabulary: task.vocabularySize, endToken: task.endToken, maxLength: maxLength)
            for temperature in [1.0, 0.6] {
                for q in task.prompts.indices {
                    let probabilities = completions.map { policy.probability(of: $0, prompt: q, temperature: temperature) }
                    #expect(abs(probabilities.reduce(0, +) - 1) < 1e-12)  // the enumeration is complete
                    let brute = zip(completions, probabilities).reduce(0) { $0 + $1.1 * task.reward(prompt: q, completion: $1.0) }
                    let exact = task.expectedReward(policy, prompt: q, temperature: temperature)
                    #expect(abs(exact - brute) < 1e-12, "\(name), max length \(maxLength), T \(temperature), prompt \(q): \(exact) vs \(brute)")
                }
            }
        }
    }

    @Test("the uniform policy by hand: copy 1/4 per position that exists, sum and lock the solution's path")
    func uniform() {
        // copy: 4 tokens, P(o_t = target_t) = (1/4) P(alive at t) = (1/4)(3/4)^t;
        // E[r] = (1/4)(1/4)(1 + 3/4 + 9/16 + 27/64) = (1/16)(175/64) = 175/1024.
        let copy = CopyTask()
        let p = Policy(vocabularySize: 4, promptCount: 6, maxLength: 8)
        #expect(abs(copy.expectedReward(p, temperature: 1) - 175.0 / 1024) < 1e-15)
        // sum: 5 tokens, the answer is 2 tokens: (1/5)^2. lock: 3 tokens, 4 of them: (1/3)^4.
        #expect(abs(SumTask().expectedReward(Policy(vocabularySize: 5, promptCount: 6, maxLength: 8), temperature: 1) - 1.0 / 25) < 1e-15)
        #expect(abs(LockTask().expectedReward(Policy(vocabularySize: 3, promptCount: 4, maxLength: 8), temperature: 1) - 1.0 / 81) < 1e-15)
        // A policy too short for the answer never gives it.
        #expect(LockTask().expectedReward(Policy(vocabularySize: 3, promptCount: 4, maxLength: 3), temperature: 1) == 0)
    }

    @Test("each step records theta's expected reward before its update")
    func recordedBeforeTheUpdate() throws {
        var t = try Trainer()
        let before = t.task.expectedReward(t.policy, temperature: t.settings.temperature)
        let trace = try t.innerStep()
        #expect(trace.summary.expectedReward == before)
        #expect(t.history.last?.expectedReward == before)
    }
}
