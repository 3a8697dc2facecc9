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
        #expect(error(Batch(groups: [Group(completions: [ok])])) == "group 0 has 1 completion(s); GRPO needs G >= 2 (or give each completion's advantage)")
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

    @Test("given advantages: all or none, finite, and then G = 1 is fine")
    func givenAdvantages() {
        let a = Completion(reward: 0, logp: [-1], refLogp: [-1], advantage: 0.5)
        let b = Completion(reward: 0, logp: [-2], refLogp: [-1])
        #expect(error(Batch(groups: [Group(completions: [a]), Group(completions: [a])])) == nil)
        #expect(error(Batch(groups: [Group(completions: [a, b])]))
                == "advantage is given for 1 of 2 completions; give it for all or none")
        var nan = a
        nan.advantage = .nan
        #expect(error(Batch(groups: [Group(completions: [a, nan])])) == "group 0, completion 1: advantage is nan, not a finite number")
        #expect(error(Batch(groups: [Group(completions: [b])])) == "group 0 has 1 completion(s); GRPO needs G >= 2 (or give each completion's advantage)")
        #expect(error(Batch(groups: [Group(completions: [])])) == "group 0 has no completions")
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

    /// `Vectorized.breakdown` checks the per-token values as its kernel reads them, not in a pass
    /// of their own: whatever field or token holds the inf or NaN, it must throw what `validate`
    /// throws, for every option that changes what the kernel reads.
    @Test("the breakdown's fused check of the values throws what validate throws", arguments: [1, 2, 3])
    func fusedCheck(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        for _ in 0..<300 {
            var config = randomConfig(&rng)
            config.maxCompletionLength = 100
            var batch = randomBatch(&rng, maxLength: 9, sampler: rng.integer(0, 1) == 0)
            if config.topEntropyQuantile == 1 && config.entropyCoef == 0 && rng.integer(0, 2) == 0 {
                batch.groups[0].completions[0].entropy = nil  // entropies on only some completions
            }
            let positions = batch.groups.indices.flatMap { g in
                batch.groups[g].completions.indices.flatMap { c in
                    batch.groups[g].completions[c].tokenFields.flatMap { field, values in values.indices.map { (g, c, field, $0) } }
                }
            }
            guard !positions.isEmpty else { continue }
            // One or two bad values: the message names the first, as validate reads them.
            for _ in 0..<rng.integer(1, 2) {
                let (g, c, field, t) = positions[rng.integer(0, positions.count - 1)]
                let bad = [Double.nan, .infinity, -.infinity][rng.integer(0, 2)]
                switch field {
                case .logp: batch.groups[g].completions[c].logp[t] = bad
                case .oldLogp: batch.groups[g].completions[c].oldLogp[t] = bad
                case .refLogp: batch.groups[g].completions[c].refLogp![t] = bad
                case .entropy: batch.groups[g].completions[c].entropy![t] = bad
                case .samplerLogp: batch.groups[g].completions[c].samplerLogp![t] = bad
                case .policyWeight: batch.groups[g].completions[c].policyWeight![t] = bad
                case .logRatioPenalty: batch.groups[g].completions[c].logRatioPenalty![t] = bad
                }
            }
            let expected = error(batch, config)
            #expect(expected?.contains("not a finite number") == true)
            do {
                _ = try Vectorized.breakdown(batch, config: config)
                Issue.record("no error; validate says \(expected ?? "nothing")")
            } catch {
                #expect(error.message == expected)
            }
        }
    }

    @Test("a bad value in the last row of a batch split over the cores is found")
    func fusedCheckInParallel() {
        var rng = SeededGenerator(seed: 9)
        var batch = randomBatch(&rng, groups: 16, groupSize: 8, maxLength: 300, sampler: false)
        #expect(batch.tokenCount >= Vectorized.parallelThreshold)
        let last = batch.groups[15].completions.lastIndex { $0.length > 0 }!
        batch.groups[15].completions[last].oldLogp[0] = -.infinity
        do {
            _ = try Vectorized.breakdown(batch, config: GRPOConfig())
            Issue.record("no error")
        } catch {
            #expect(error.message == "group 15, completion \(last): old_logp[0] is -inf, not a finite number")
        }
    }

    @Test("sampler weight bounds are checked when the correction is used, as TRL checks them")
    func samplerBounds() {
        let c = Completion(reward: 1, logp: [-1], refLogp: [-1], samplerLogp: [-1.1])
        let d = Completion(reward: 0, logp: [-2], refLogp: [-1], samplerLogp: [-2.2])
        let batch = Batch(groups: [Group(completions: [c, d])])
        var config = GRPOConfig()
        config.vllmImportanceSamplingClipMin = 3
        #expect(error(batch, config) == "vllm_importance_sampling_clip_min (3.0) must be below vllm_importance_sampling_clip_max (3.0)")
        config.vllmImportanceSamplingClipMin = nil
        config.vllmImportanceSamplingClipMax = nil
        #expect(error(batch, config) == nil, "sequence_mask without bounds masks nothing")
        config.vllmImportanceSamplingMode = .tokenTruncate
        #expect(error(batch, config) == "vllm_importance_sampling_mode token_truncate needs vllm_importance_sampling_clip_min or vllm_importance_sampling_clip_max (both are none)")
        config.vllmImportanceSamplingCorrection = false
        #expect(error(batch, config) == nil, "bounds matter only when the correction is on")
    }
}
