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
}
