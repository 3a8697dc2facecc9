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

    @Test("k = 0: the sampler is pi_old and the batch has no sampler log-probs")
    func fresh() throws {
        var t = try trainer(staleness: 0)
        t.train(iterations: 3)
        #expect(t.samplerPolicy == t.policy)
        #expect(t.rollout().samplerLogp == nil)
    }

    @Test("k = 2: each rollout is sampled by theta from 2 updates before, and scored by theta for old_logp")
    func twoBehind() throws {
        var t = try trainer(staleness: 2)
        var thetas = [t.policy]  // theta after 0, 1, 2, ... updates
        for _ in 0..<4 {
            t.innerStep()
            thetas.append(t.policy)
        }
        // 4 updates made: the sampler has theta after 2 of them.
        #expect(t.samplerPolicy == thetas[2])
        #expect(t.recentPolicies.count == 2)
        let rollout = t.rollout()
        #expect(rollout.samplerLogp == t.score(thetas[2], rollout))
        #expect(rollout.oldLogp == t.score(thetas[4], rollout))
        #expect(rollout.samplerLogp != rollout.oldLogp)
    }

    @Test("before k updates the sampler keeps the run's first theta")
    func startOfRun() throws {
        var t = try trainer(staleness: 3)
        let start = t.policy
        t.innerStep()
        #expect(t.samplerPolicy == start)
    }

    @Test("the snapshots are saved with the session, and fewer staleness keeps fewer")
    func saved() throws {
        var t = try trainer(staleness: 2)
        t.train(iterations: 3)
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
            t.innerStep()
            thetas.append(t.policy)
        }
        let rollout = t.rollout()
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
        a.train(iterations: 3)
        b.train(iterations: 3)
        #expect(a.policy == b.policy && a.currentRollout?.completions == b.currentRollout?.completions)
        #expect(b.currentRollout?.tokenLag == nil && b.currentRollout?.samplerLogp == nil)
    }
}
