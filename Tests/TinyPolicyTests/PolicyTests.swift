#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO
import Testing
@testable import TinyPolicy

@Suite("Policy, sampling, optimizer")
struct PolicyTests {
    let shape = Policy(vocabularySize: 4, promptCount: 2, maxLength: 3)

    @Test("theta = 0 is uniform: logp = -log V, entropy = log V")
    func uniformStart() {
        let e = shape.evaluate(prompts: [0, 1], completions: [[0, 1, 3], [2]], temperature: 1)
        #expect(e.offsets == [0, 3, 4])
        #expect(e.logp.allSatisfy { abs($0 + log(4)) < 1e-15 } && e.entropy.allSatisfy { abs($0 - log(4)) < 1e-15 })
    }

    @Test("logits are the two table rows added up; the temperature divides them")
    func logitsAndTemperature() {
        var p = shape
        p.parameters[p.promptPositionIndex(prompt: 1, position: 2, token: 3)] = 2
        p.parameters[p.previousIndex(previous: 0, token: 3)] = 0.5
        p.parameters[p.previousIndex(previous: p.startRow, token: 1)] = -1
        #expect(p.logits(prompt: 1, position: 2, previous: 0) == [0, 0, 0, 2.5])
        #expect(p.logits(prompt: 1, position: 0, previous: p.startRow) == [0, -1, 0, 0])
        // Hand-worked: at T = 2 the logits 0, 0, 0, 2.5 become 0, 0, 0, 1.25.
        let e = p.evaluate(prompts: [1], completions: [[0, 0, 3]], temperature: 2)
        let z = 3 + exp(1.25)
        #expect(abs(e.logp[2] - (1.25 - log(z))) < 1e-15)
        let probabilities = [1 / z, 1 / z, 1 / z, exp(1.25) / z]
        let entropy = -probabilities.reduce(0) { $0 + $1 * log($1) }
        #expect(abs(e.entropy[2] - entropy) < 1e-15)
    }

    @Test("sampling: deterministic for a seed, stops at <eos> or max length, frequencies follow pi")
    func sampling() {
        var p = shape
        for (v, logit) in [0.0, 1, 2, -1].enumerated() {
            p.parameters[p.previousIndex(previous: p.startRow, token: v)] = logit
        }
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9)
        let x = p.sample(prompt: 0, endToken: 3, maxLength: 3, temperature: 1, using: &a)
        let y = p.sample(prompt: 0, endToken: 3, maxLength: 3, temperature: 1, using: &b)
        #expect(x == y && a == b)
        var rng = SeededGenerator(seed: 4)
        var counts = [0, 0, 0, 0]
        let n = 20_000
        for _ in 0..<n {
            let o = p.sample(prompt: 0, endToken: 3, maxLength: 3, temperature: 1, using: &rng).tokens
            #expect(o.count == 3 || o.last == 3)
            counts[o[0]] += 1
        }
        let z = [0.0, 1, 2, -1].reduce(0) { $0 + exp($1) }
        for v in 0..<4 {
            let expected = exp([0.0, 1, 2, -1][v]) / z
            // within 4 standard errors
            #expect(abs(Double(counts[v]) / Double(n) - expected) < 4 * (expected * (1 - expected) / Double(n)).squareRoot(), "token \(v)")
        }
    }

    @Test("the sampler's log-probs are bit-identical to evaluate's when exact, close when rounded")
    func samplerLogp() {
        var rng = SeededGenerator(seed: 2)
        let p = randomPolicy(shape, scale: 3, &rng)
        for precision in SamplerPrecision.allCases {
            var r = SeededGenerator(seed: 5)
            let s = p.sample(prompt: 1, endToken: 3, maxLength: 3, temperature: 0.8, precision: precision, using: &r)
            let e = p.evaluate(prompts: [1], completions: [s.tokens], temperature: 0.8)
            if precision == .exact {
                #expect(s.samplerLogp == e.logp)
            } else {
                #expect(s.samplerLogp != e.logp && zip(s.samplerLogp, e.logp).allSatisfy { abs($0 - $1) < 0.1 })
            }
        }
    }

    @Test("precision rounding, hand-worked on 1/3")
    func rounding() {
        #expect(SamplerPrecision.exact.round(1.0 / 3) == 1.0 / 3)
        #expect(SamplerPrecision.float16.round(1.0 / 3) == 0.333251953125)   // 0x3555
        #expect(SamplerPrecision.bfloat16.round(1.0 / 3) == 0.333984375)     // 0x3EAB: rounded up
        #expect(SamplerPrecision.bfloat16.round(1.0) == 1 && SamplerPrecision.bfloat16.round(-2.5) == -2.5)
    }

    @Test("Adam's first step moves each parameter by lr against its gradient's sign; SGD by lr * g")
    func optimizers() {
        var adam = Optimizer(kind: .adam, learningRate: 0.1)
        var theta = [1.0, 1.0, 1.0]
        adam.step(&theta, gradient: [2.0, -0.001, 0])
        // m_hat = g, v_hat = g^2: the step is lr * g / (|g| + 1e-8).
        #expect(abs(theta[0] - 0.9) < 1e-9 && abs(theta[1] - 1.1) < 1e-6 && theta[2] == 1)
        #expect(adam.stepCount == 1 && adam.firstMoment.count == 3)
        adam.kind = .sgd
        #expect(adam.stepCount == 0 && adam.firstMoment.isEmpty, "changing the kind resets the moments")
        adam.step(&theta, gradient: [2.0, 0, 1])
        #expect(abs(theta[0] - 0.7) < 1e-9 && abs(theta[2] - 0.9) < 1e-12)
    }
}

@Suite("Policy views")
struct PolicyViewTests {
    @Test("tables, next-token distribution and the most likely answer")
    func views() throws {
        var trainer = try Trainer()
        try trainer.train(iterations: 200)
        let policy = trainer.policy, task = trainer.task
        #expect(policy.promptPositionTable(prompt: 2).count == 8 && policy.previousTable.count == 5)
        #expect(policy.previousTable[policy.startRow][1] == policy.parameters[policy.previousIndex(previous: 4, token: 1)])
        #expect(policy.promptPositionTable(prompt: 2)[3][0]
                == policy.parameters[policy.promptPositionIndex(prompt: 2, position: 3, token: 0)])
        let p = policy.distribution(prompt: 0, position: 0, previous: policy.startRow, temperature: 1)
        #expect(abs(p.reduce(0, +) - 1) < 1e-12)
        for q in task.prompts.indices {
            let (tokens, probability) = policy.mostLikely(prompt: q, endToken: task.endToken, maxLength: 8)
            #expect(tokens == task.solution(prompt: q), "\(task.prompts[q]): \(task.render(tokens))")
            #expect(probability > 0.5 && probability <= 1)
        }
        let uniform = Policy(vocabularySize: 3, promptCount: 1, maxLength: 2)
        let first = uniform.mostLikely(prompt: 0, endToken: 2, maxLength: 2)
        #expect(first.tokens == [0, 0] && abs(first.probability - 1.0 / 9) < 1e-15, "ties go to the first token")
    }
}
