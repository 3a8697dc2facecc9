import GRPO
import Testing
@testable import TinyPolicy

/// `Trainer.innerStep(externalLoss:)`: training driven by a loss written outside the project.
@Suite("Training with an external loss")
struct ExternalLossTests {
    /// The project's naive loss as an external one would hand it over: rows of d loss / d logp.
    func naiveAsExternal(_ config: GRPOConfig) -> (Batch) throws -> ExternalLoss {
        { batch in
            let b = try Naive.breakdown(batch, config: config)
            return ExternalLoss(loss: b.loss, gradLogp: b.gradLogp.rows)
        }
    }

    func settings(_ optimizer: OptimizerKind, mu: Int) -> TrainingSettings {
        var s = TrainingSettings()
        s.optimizer = optimizer
        s.numIterations = mu
        s.path = .naive
        return s
    }

    @Test("the naive loss handed over from outside trains exactly as path naive, for every optimizer", arguments: OptimizerKind.allCases)
    func sameAsNaivePath(optimizer: OptimizerKind) throws {
        var config = GRPOConfig()
        config.beta = 0.04
        var own = try Trainer(settings: settings(optimizer, mu: 2), lossConfig: config)
        var external = own
        for _ in 0..<12 {
            try own.innerStep()
            let step = try external.innerStep(externalLoss: naiveAsExternal(external.lossConfig))
            #expect(step.lossDifference == 0 && step.gradientDifference == 0)
        }
        #expect(external.policy == own.policy)
        #expect(external.history.map(\.meanReward) == own.history.map(\.meanReward))
    }

    @Test("with sgd, a gradient twice the project's moves theta twice as far, and the difference is |g|")
    func doubledGradient() throws {
        let own = try Trainer(settings: settings(.sgd, mu: 1))
        var project = own, doubled = own
        try project.innerStep()
        let step = try doubled.innerStep { batch in
            let b = try Naive.breakdown(batch, config: own.lossConfig)
            return ExternalLoss(loss: 2 * b.loss, gradLogp: b.gradLogp.map { 2 * $0 }.rows)
        }
        // d loss / d theta is linear in d loss / d logp, and sgd's step is -lr * gradient.
        let start = own.policy.parameters
        for k in start.indices {
            let once = project.policy.parameters[k] - start[k], twice = doubled.policy.parameters[k] - start[k]
            #expect(close(twice, 2 * once, relative: 1e-12, absolute: 1e-15))
        }
        let largest = project.latest!.breakdown.gradLogp.values.map(abs).max()!
        #expect(close(step.gradientDifference, largest, relative: 1e-15, absolute: 0))
        #expect(close(step.lossDifference, abs(project.latest!.breakdown.loss), relative: 1e-15, absolute: 0))
    }

    @Test("a gradient of the wrong shape or not finite is refused with what was wrong, and nothing is updated")
    func refused() throws {
        let start = try Trainer(settings: settings(.adam, mu: 1))
        var t = start
        try t.rollout()
        let rows = t.buildBatch()!.completions.map(\.logp.count)
        let cases: [([[Double]], Double, String)] = [
            (Array(repeating: [0], count: rows.count - 1), 0,
             "the loss's gradient has \(rows.count - 1) rows; the batch has \(rows.count) completions, one row each"),
            ([Array(repeating: 0, count: rows[0] + 1)] + rows.dropFirst().map { Array(repeating: 0, count: $0) }, 0,
             "the loss's gradient row 0 has \(rows[0] + 1) values; completion 0 has \(rows[0]) tokens, one value each"),
            (rows.enumerated().map { i, n in (0..<n).map { i == 1 && $0 == n - 1 ? .nan : 0 } }, 0,
             "the loss's d loss / d logp of token (1, \(rows[1] - 1)) is nan; only finite values can train"),
            (rows.map { Array(repeating: 0, count: $0) }, .infinity, "the loss is inf; only a finite loss can train"),
        ]
        for (gradient, loss, message) in cases {
            var attempt = t
            #expect(throws: ExternalLossError(description: message)) {
                try attempt.innerStep { _ in ExternalLoss(loss: loss, gradLogp: gradient) }
            }
            #expect(attempt.policy == start.policy && attempt.stepCount == 0 && attempt.optimizer == t.optimizer)
        }
    }

    @Test("an error thrown by the loss reaches the caller and leaves theta as it was")
    func throwing() throws {
        struct Unwritten: Error {}
        var t = try Trainer(settings: settings(.adam, mu: 1))
        let before = t.policy
        #expect(throws: Unwritten.self) { try t.innerStep { _ in throw Unwritten() } }
        #expect(t.policy == before && t.stepCount == 0 && t.history.isEmpty)
    }
}
