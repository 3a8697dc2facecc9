import GRPO
import Testing
@testable import TinyPolicy

@Suite("Tasks and rewards")
struct TaskTests {
    /// Token indices from names, e.g. "b c a <eos>".
    func tokens(_ task: any RewardTask, _ text: String) -> [Int] {
        text.split(separator: " ").map { task.tokens.firstIndex(of: String($0))! }
    }

    @Test("copy: share of the 4 positions right")
    func copyRewards() {
        let task = CopyTask()
        #expect(task.prompts[0] == "abc")
        let cases: [(String, Double)] = [
            ("a b c <eos>", 1), ("a b c", 0.75), ("a c c <eos>", 0.75), ("c b a <eos>", 0.5),
            ("a b c a <eos>", 0.75), ("b", 0), ("<eos>", 0), ("a <eos>", 0.25),
        ]
        for (text, reward) in cases {
            #expect(task.reward(prompt: 0, completion: tokens(task, text)) == reward, "\(text)")
        }
        #expect(task.reward(prompt: 4, completion: tokens(task, "c a b <eos>")) == 1)  // "cab"
        #expect(task.render(task.solution(prompt: 5)) == "c b a <eos>")
    }

    @Test("sum: 1 only for the digit then <eos>")
    func sumRewards() {
        let task = SumTask()
        #expect(task.prompts[3] == "1+2")
        let cases: [(String, Double)] = [
            ("3 <eos>", 1), ("3", 0), ("2 <eos>", 0), ("3 3 <eos>", 0), ("1 3 <eos>", 0), ("<eos>", 0), ("3 <eos> 3", 0),
        ]
        for (text, reward) in cases {
            #expect(task.reward(prompt: 3, completion: tokens(task, text)) == reward, "\(text)")
        }
        #expect(task.render(task.solution(prompt: 0)) == "1 <eos>")
    }

    @Test("lock: 1 only for the exact code then <eos>")
    func lockRewards() {
        let task = LockTask()
        let cases: [(String, Double)] = [
            ("x y x <eos>", 1), ("x y x", 0), ("x y x x <eos>", 0), ("y y x <eos>", 0), ("x y <eos>", 0),
        ]
        for (text, reward) in cases {
            #expect(task.reward(prompt: 0, completion: tokens(task, text)) == reward, "\(text)")
        }
        #expect(task.reward(prompt: 1, completion: tokens(task, "y y x <eos>")) == 1)
    }

    @Test("every task: unique name, <eos> last, solutions score 1, rewards in [0, 1]")
    func everyTask() {
        #expect(Set(TaskCatalog.names).count == TaskCatalog.all.count)
        #expect(TaskCatalog.named("copy")?.name == "copy" && TaskCatalog.named("chess") == nil)
        for task in TaskCatalog.all {
            #expect(task.tokens.last == "<eos>" && task.vocabularySize <= 16 && !task.summary.isEmpty && !task.shows.isEmpty)
            for q in task.prompts.indices {
                let solution = task.solution(prompt: q)
                #expect(task.reward(prompt: q, completion: solution) == 1 && solution.last == task.endToken, "\(task.name) \(q)")
            }
            let uniform = Policy(vocabularySize: task.vocabularySize, promptCount: task.prompts.count, maxLength: 8)
            var rng = SeededGenerator(seed: 3)
            for k in 0..<200 {
                let q = k % task.prompts.count
                let o = uniform.sample(prompt: q, endToken: task.endToken, maxLength: 8, temperature: 1, using: &rng).tokens
                let r = task.reward(prompt: q, completion: o)
                #expect(r >= 0 && r <= 1, "\(task.name): \(task.render(o)) scores \(r)")
            }
        }
    }

    @Test("sum: correct answers are 2 tokens, wrong ones longer, under the initial (uniform) policy")
    func sumLengthsDiffer() {
        let task = SumTask()
        let policy = Policy(vocabularySize: task.vocabularySize, promptCount: task.prompts.count, maxLength: 8)
        var rng = SeededGenerator(seed: 1)
        var correct: [Int] = [], wrong: [Int] = []
        for k in 0..<3000 {
            let q = k % task.prompts.count
            let o = policy.sample(prompt: q, endToken: task.endToken, maxLength: 8, temperature: 1, using: &rng).tokens
            if task.reward(prompt: q, completion: o) == 1 { correct.append(o.count) } else { wrong.append(o.count) }
        }
        // P(correct) = (1/5)^2 = 0.04. E|o| = sum_{t<8} 0.8^t = 4.16, so a wrong answer averages
        // (4.16 - 0.04 * 2) / 0.96 = 4.25 tokens.
        #expect(correct.count > 80 && correct.count < 160)
        #expect(correct.allSatisfy { $0 == 2 })
        let meanWrong = Double(wrong.reduce(0, +)) / Double(wrong.count)
        #expect(meanWrong > 4.1 && meanWrong < 4.4, "mean wrong length \(meanWrong)")
    }

    @Test("sum at mu = 1: the grpo loss is 0, the dapo loss is > 0 because wrong answers are longer")
    func lengthShowsInTheLoss() throws {
        var grpo = try makeTrainer("task=sum", "seed=2")
        var dapo = try makeTrainer("task=sum", "seed=2", "loss_type=dapo")
        let a = try grpo.innerStep(), b = try dapo.innerStep()
        #expect(a.rollout == b.rollout)
        #expect(abs(a.summary.loss) < 1e-12, "grpo: -mean_i A_i = 0 when every group's advantages sum to 0")
        #expect(b.summary.loss > 0.01, "dapo: -sum_i A_i |o_i| / N, with A < 0 on the longer completions")
        let lengths = a.rollout.completions.map(\.count)
        let (weightsGRPO, weightsDAPO) = (a.breakdown.weight, b.breakdown.weight)
        for i in lengths.indices {
            #expect(abs(weightsGRPO[i] - 1 / Double(32 * lengths[i])) < 1e-15)
            #expect(abs(weightsDAPO[i] - 1 / Double(lengths.reduce(0, +))) < 1e-15)
        }
    }

    @Test("lock: at the start most groups are all 0 (std 0, no signal)")
    func lockStartsWithZeroVarianceGroups() throws {
        var trainer = try makeTrainer("task=lock", "prompts_per_iteration=16")
        let first = try trainer.innerStep()
        // P(a group of 8 has a success) = 1 - (80/81)^8 = 9%.
        #expect(first.summary.fracRewardZeroStd >= 0.75, "\(first.summary.fracRewardZeroStd)")
    }
}
