import Testing
@testable import GRPO

@Suite("Batch validation names what is wrong")
struct ValidationTests {
    func error(_ batch: Batch, _ config: GRPOConfig = GRPOConfig()) -> String? {
        do { try batch.validate(for: config); return nil } catch { return error.message }
    }

    @Test("each malformed batch gets a message naming the group, completion and field")
    func messages() {
        let ok = Completion(reward: 1, logp: [-1], refLogp: [-1])
        #expect(error(Batch(groups: [])) == "the batch has no groups")
        #expect(error(Batch(groups: [Group(completions: [ok])])) == "group 0 has 1 completion(s); GRPO needs G >= 2")
        #expect(error(Batch(groups: [Group(completions: [ok, ok]), Group(completions: [ok, ok, ok])]))
                == "group 1 has 3 completions but group 0 has 2; all groups need the same G")
        let ragged = Completion(reward: 1, logp: [-1, -2], oldLogp: [-1], refLogp: [-1, -1])
        #expect(error(Batch(groups: [Group(completions: [ok, ragged])]))
                == "group 0, completion 1: old_logp has 1 values but logp has 2")
        let nan = Completion(reward: 1, logp: [-1, .nan], refLogp: [-1, -1])
        #expect(error(Batch(groups: [Group(completions: [nan, ok])])) == "group 0, completion 0: logp[1] is nan, not a finite number")
        let noRef = Completion(reward: 0, logp: [-1])
        #expect(error(Batch(groups: [Group(completions: [noRef, noRef])]))
                == "beta is 0.04 but no completion has ref_logp; give ref_logp or set beta=0")
        var drGRPO = GRPOConfig()
        drGRPO.lossType = .drGRPO
        drGRPO.maxCompletionLength = 1
        #expect(error(Batch(groups: [Group(completions: [ok, Completion(reward: 0, logp: [-1, -1], refLogp: [-1, -1])])]), drGRPO)
                == "group 0, completion 1 has 2 tokens, more than max_completion_length=1 that dr_grpo divides by")
    }

    @Test("empty completions and beta = 0 without ref_logp are fine")
    func accepted() throws {
        var config = GRPOConfig()
        config.beta = 0
        let batch = Batch(groups: [Group(completions: [Completion(reward: 1, logp: []), Completion(reward: 0, logp: [-1])])])
        let b = try Vectorized.breakdown(batch, config: config)
        #expect(b.kl == nil && b.metrics.kl == nil)
        #expect(b.gradLogp.rowCount == 2 && b.gradLogp[0].isEmpty)
    }
}
