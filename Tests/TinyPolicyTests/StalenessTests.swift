import Foundation
import GRPO
import Testing
@testable import TinyPolicy

/// `max_staleness` k: the sampler's weights are theta from k updates ago (asynchronous RL).
@Suite("A sampler k updates behind the trainer")
struct StalenessTests {
    func trainer(staleness: Int) throws -> Trainer {
        var settings = TrainingSettings()
        settings.maxStaleness = staleness
        settings.numIterations = 1
        return try Trainer(settings: settings)
    }

    /// Default settings with a sampler k updates behind and in-flight updates every `interval` tokens.
    func stale(_ k: Int, interval: Int = 0, prompts: Int = TrainingSettings().promptsPerIteration) throws -> Trainer {
        var settings = TrainingSettings()
        settings.maxStaleness = k
        settings.weightUpdateInterval = interval
        settings.promptsPerIteration = prompts
        return try Trainer(settings: settings)
    }

    @Test("k = 0: the sampler is pi_old and the batch has no sampler log-probs")
    func fresh() throws {
        var t = try trainer(staleness: 0)
        try t.train(iterations: 3)
        #expect(t.samplerPolicy == t.policy)
        #expect(try t.rollout().samplerLogp == nil)
    }

    @Test("k = 2: each rollout is sampled by theta from 2 updates before, and scored by theta for old_logp")
    func twoBehind() throws {
        var t = try trainer(staleness: 2)
        var thetas = [t.policy]  // theta after 0, 1, 2, ... updates
        for _ in 0..<4 {
            try t.innerStep()
            thetas.append(t.policy)
        }
        // 4 updates made: the sampler has theta after 2 of them.
        #expect(t.samplerPolicy == thetas[2])
        #expect(t.recentPolicies.count == 2)
        let rollout = try t.rollout()
        #expect(rollout.samplerLogp == t.score(thetas[2], rollout))
        #expect(rollout.oldLogp == t.score(thetas[4], rollout))
        #expect(rollout.samplerLogp != rollout.oldLogp)
    }

    @Test("before k updates the sampler keeps the run's first theta")
    func startOfRun() throws {
        var t = try trainer(staleness: 3)
        let start = t.policy
        try t.innerStep()
        #expect(t.samplerPolicy == start)
    }

    @Test("the snapshots are saved with the session, and fewer staleness keeps fewer")
    func saved() throws {
        var t = try trainer(staleness: 2)
        try t.train(iterations: 3)
        let data = try JSONEncoder().encode(t)
        let back = try JSONDecoder().decode(Trainer.self, from: data)
        #expect(back.recentPolicies == t.recentPolicies && back.samplerPolicy == t.samplerPolicy)
        try t.set("max_staleness", to: "1")
        #expect(t.recentPolicies.count == 1)
        #expect(TrainingSettings.option(named: "max_staleness")?.accepted == "a whole number in [0, 64]")
    }

    @Test("in-flight updates: every N sampled tokens the sampler takes the next newer theta, and each token says its lag")
    func inFlight() throws {
        var settings = TrainingSettings()
        settings.maxStaleness = 3
        settings.weightUpdateInterval = 10
        var t = try Trainer(settings: settings)
        var thetas = [t.policy]
        for _ in 0..<5 {
            try t.innerStep()
            thetas.append(t.policy)
        }
        let rollout = try t.rollout()
        let lags = try #require(rollout.tokenLag)
        // Tokens in generation order: lag 3 for the first 10, then 2, 1, and 0 from token 30 on.
        let flat = lags.flatMap { $0 }
        #expect(flat.enumerated().allSatisfy { k, lag in lag == max(0, 3 - k / 10) })
        // Each token's sampler log-prob is its version's: theta after 5 - lag updates.
        for (i, tokens) in rollout.completions.enumerated() {
            for t2 in tokens.indices {
                let version = thetas[5 - lags[i][t2]]
                let single = Rollout(iteration: 0, prompts: [rollout.completionPrompts[i]], groupSize: 1, temperature: 1,
                                     completions: [rollout.completions[i]], rewards: [0], oldLogp: [], refLogp: [])
                #expect(abs(t.score(version, single)[0][t2] - rollout.samplerLogp![i][t2]) < 1e-12)
            }
        }
    }

    @Test("without a stale sampler nothing changes: the same seed gives the same samples as before")
    func unchangedWithoutStaleness() throws {
        var a = try Trainer()
        var settings = TrainingSettings()
        settings.weightUpdateInterval = 5  // no effect without max_staleness
        var b = try Trainer(settings: settings)
        try a.train(iterations: 3)
        try b.train(iterations: 3)
        #expect(a.policy == b.policy && a.currentRollout?.completions == b.currentRollout?.completions)
        #expect(b.currentRollout?.tokenLag == nil && b.currentRollout?.samplerLogp == nil)
    }

    @Test("k = 0: a rollout is the synchronous loop's, drawn by hand: prompts, then each completion from theta")
    func synchronousByHand() throws {
        var t = try Trainer()
        try t.train(iterations: 2)
        let theta = t.policy
        var rng = t.rng
        let rollout = try t.rollout()
        let s = t.settings
        let prompts = (0..<s.promptsPerIteration).map { _ in rng.integer(0, t.task.prompts.count - 1) }
        var completions: [[Int]] = []
        for q in prompts {
            for _ in 0..<s.numGenerations {
                completions.append(theta.sample(prompt: q, endToken: t.task.endToken, maxLength: s.maxCompletionLength,
                                                temperature: s.temperature, using: &rng).tokens)
            }
        }
        #expect(rollout.prompts == prompts && rollout.completions == completions && t.rng == rng)
        #expect(rollout.oldLogp == t.score(theta, rollout) && rollout.samplerLogp == nil && rollout.tokenLag == nil)
    }

    @Test("the ratio against the sampler is exactly 1 on the first update of a run: theta is the snapshot that sampled")
    func behaviourRatioStartsAtOne() throws {
        var t = try stale(2, interval: 7)
        let first = try t.innerStep().summary
        #expect(first.behaviourRatioMin == 1 && first.behaviourRatioMax == 1)
        #expect(first.stalenessMax == 0 && first.stalenessMean == 0)
        // Later the sampler lags, and the ratio to it moves while the ratio to theta_old stays 1.
        try t.train(iterations: 3)
        let later = try t.innerStep().summary
        #expect(later.stalenessMax == 2 && later.ratioMin == 1 && later.ratioMax == 1)
        #expect(later.behaviourRatioMin! < 1 && later.behaviourRatioMax! > 1)
    }

    @Test("old_logp_source sampler: old_logp are each token's sampler's log-probs, and no sampler_logp is left")
    func oldLogpFromTheSampler() throws {
        var rescored = try stale(2, interval: 7)
        try rescored.train(iterations: 3)
        // The same run from here, with the sampler's log-probs as old_logp: the same samples.
        var own = rescored
        try own.set("old_logp_source", to: "sampler")
        let a = try rescored.rollout(), b = try own.rollout()
        #expect(a.completions == b.completions && a.tokenLag == b.tokenLag)
        #expect(b.oldLogp == a.samplerLogp && b.samplerLogp == nil)
        let summary = try own.innerStep().summary
        #expect(summary.behaviourRatioMin == nil && summary.ratioMin < 1 && summary.ratioMax > 1)
        #expect(TrainingSettings.option(named: "old_logp_source")?.accepted == "one of trainer, sampler")
    }

    @Test("sample/staleness_mean counts each completion's first token (TRL's per sample), token lag mean every token")
    func perSampleAndPerToken() throws {
        var t = try stale(4, prompts: 1)
        try t.train(iterations: 10)
        let steady = try t.innerStep().summary
        // Without in-flight updates every token lags exactly 4: both means are 4.
        #expect(steady.stalenessMean == 4 && steady.tokenLagMean == 4 && steady.stalenessMax == 4)
        try t.set("weight_update_interval", to: "3")
        let lags = try t.rollout().tokenLag!
        let summary = try t.innerStep().summary
        // Token s of the rollout lags max(0, 4 - s / 3): 4, 4, 4, 3, 3, 3, 2, 2, ... whatever the
        // completions' lengths; a completion's first token is the oldest of its own.
        let flat = Array(lags.joined())
        #expect(flat == flat.indices.map { max(0, 4 - $0 / 3) })
        let starts = lags.map { $0[0] }
        #expect(summary.stalenessMean == Double(starts.reduce(0, +)) / Double(starts.count))
        #expect(summary.tokenLagMean == Double(flat.reduce(0, +)) / Double(flat.count))
        #expect(summary.stalenessMean! > summary.tokenLagMean! && summary.stalenessMax == 4)
    }

    @Test("the same seed gives the same run, step for step, with staleness and in-flight updates")
    func deterministic() throws {
        var settings = TrainingSettings()
        settings.maxStaleness = 3
        settings.weightUpdateInterval = 5
        settings.numIterations = 2
        var a = try Trainer(settings: settings), b = try Trainer(settings: settings)
        try a.train(iterations: 6)
        try b.train(iterations: 6)
        #expect(a.history == b.history && a.policy == b.policy && a.currentRollout == b.currentRollout)
    }

    @Test("d loss / d theta through a stale batch with the sampler correction and with old_logp from the sampler: central differences",
          arguments: OldLogpSource.allCases)
    func finiteDifferences(_ source: OldLogpSource) throws {
        var settings = TrainingSettings()
        settings.maxStaleness = 3
        settings.weightUpdateInterval = 6
        settings.numIterations = 2
        settings.learningRate = 0.3
        settings.oldLogpSource = source
        var config = GRPOConfig()
        config.vllmImportanceSamplingMode = .tokenTruncate
        var t = try Trainer(settings: settings, lossConfig: config)
        try t.train(iterations: 5)
        try t.rollout()
        try t.innerStep()  // theta != theta_old on the next update
        var copy = t
        let analytic = try copy.innerStep().gradient
        func loss(_ theta: Policy) -> Double {
            var perturbed = t
            perturbed.policy = theta
            return try! perturbed.breakdown(perturbed.buildBatch()!, config: t.lossConfig, path: .naive).loss
        }
        let h = 1e-5
        var checked = 0
        for k in t.policy.parameters.indices where analytic[k] != 0 {
            var plus = t.policy, minus = t.policy
            plus.parameters[k] += h
            minus.parameters[k] -= h
            let numeric = (loss(plus) - loss(minus)) / (2 * h)
            #expect(close(numeric, analytic[k], relative: 1e-6, absolute: 1e-10), "parameter \(k): \(numeric) vs \(analytic[k])")
            checked += 1
        }
        #expect(checked > 50)
    }
}
