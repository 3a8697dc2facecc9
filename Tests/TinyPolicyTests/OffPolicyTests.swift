#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO
import Testing
@testable import TinyPolicy

/// Lessons 03, 06, 09: the ratio on stale data, KL as a metric, and the sampler/trainer mismatch.
@Suite("Ratio, KL and sampler mismatch")
struct OffPolicyTests {
    @Test("mu = 1: ratio exactly 1 and clip fraction 0 on every inner step")
    func onPolicyRatioIsOne() throws {
        var trainer = try makeTrainer("learning_rate=0.2")
        try trainer.train(iterations: 25, onStep: { trace in
            #expect(trace.breakdown.ratio.values.allSatisfy { $0 == 1 })
            #expect(trace.batch.completions.allSatisfy { $0.logp == $0.oldLogp })
            #expect(trace.summary.clipRatioRegion == 0 && trace.summary.ratioMin == 1 && trace.summary.ratioMax == 1)
        })
        #expect(trainer.history.count == 25)
    }

    @Test("mu > 1: ratio 1 on the first inner update, != 1 after it, and clipping acts")
    func offPolicyRatioDrifts() throws {
        var trainer = try makeTrainer("num_iterations=4", "learning_rate=0.2")
        try trainer.train(iterations: 10)
        for s in trainer.history {
            if s.innerStep == 0 {
                #expect(s.ratioMin == 1 && s.ratioMax == 1 && s.clipRatioRegion == 0, "step \(s.step)")
            } else {
                #expect(s.ratioMin < 1 && s.ratioMax > 1, "step \(s.step): ratio in [\(s.ratioMin), \(s.ratioMax)]")
            }
        }
        #expect(trainer.history.contains { ($0.clipRatioRegion ?? 0) > 0 }, "with lr 0.2 and mu 4 some tokens leave [0.8, 1.2]")
    }

    @Test("beta = 0: KL to the reference is reported, yet the gradient is that of a batch without ref_logp")
    func klIsOnlyAMetricWithoutBeta() throws {
        var trainer = try makeTrainer("beta=0")
        #expect(trainer.lossConfig.beta == 0)
        try trainer.train(iterations: 20)
        let last = try #require(trainer.history.last)
        #expect(last.kl > 0.01, "theta moved away from theta_ref: KL \(last.kl)")
        let batch = try #require(trainer.buildBatch())
        #expect(batch.hasReference)
        var withoutReference = batch
        for g in withoutReference.groups.indices {
            for i in withoutReference.groups[g].completions.indices { withoutReference.groups[g].completions[i].refLogp = nil }
        }
        for path in LossPath.allCases {
            let with = try breakdown(batch, trainer.lossConfig, path)
            let without = try breakdown(withoutReference, trainer.lossConfig, path)
            #expect(with.kl != nil && without.kl == nil)
            #expect(with.gradLogp == without.gradLogp && with.loss == without.loss, "\(path)")
        }
    }

    @Test("resetReference: theta_ref <- theta, so KL to the reference drops to 0")
    func resetReference() throws {
        var trainer = try Trainer()
        try trainer.train(iterations: 10)
        try trainer.rollout()
        trainer.resetReference()
        #expect(trainer.referencePolicy == trainer.policy)
        let trace = try trainer.innerStep()
        #expect(trace.summary.kl == 0 && trace.breakdown.kl!.values.allSatisfy { $0 == 0 })
    }

    @Test("sampler mismatch: ratio stays 1 at mu = 1, the sampler weights differ from 1 and are capped")
    func samplerMismatch() throws {
        // A sampler temperature of 1.5 against the trainer's 1.0: after training has sharpened the
        // policy, rho = exp(old_logp - sampler_logp) is above 1 on likely tokens, below on unlikely ones.
        var trainer = try makeTrainer("sampler_temperature=1.5", "vllm_importance_sampling_mode=token_truncate",
                                      "vllm_importance_sampling_clip_max=1.1")
        try trainer.train(iterations: 30)
        let trace = try trainer.innerStep()
        #expect(trace.breakdown.ratio.values.allSatisfy { $0 == 1 })
        let weights = try #require(trace.breakdown.samplerWeight).values
        #expect(trace.batch.hasSampler)
        let rho = trace.batch.completions.flatMap { c in zip(c.oldLogp, c.samplerLogp!).map { exp($0 - $1) } }
        #expect(weights == rho.map { min($0, 1.1) }, "token_truncate: w = min(rho, cap)")
        #expect(weights.contains { $0 == 1.1 } && weights.contains { $0 < 0.9 }, "some capped, some well below 1")
        let s = trace.summary
        #expect(s.samplerWeightMax == 1.1 && s.samplerWeightMin! < 0.9 && s.samplerWeightMean != nil)

        // sequence_mask (TRL's default): one weight per completion, 0 where the product is over the cap.
        try trainer.set("vllm_importance_sampling_mode", to: "sequence_mask")
        let masked = try trainer.innerStep()
        let sequenceWeights = try #require(masked.breakdown.samplerWeight)
        for (i, c) in masked.batch.completions.enumerated() {
            let product = exp(zip(c.oldLogp, c.samplerLogp!).reduce(0) { $0 + ($1.0 - $1.1) })
            #expect(sequenceWeights[i].allSatisfy { $0 == (product > 1.1 ? 0 : product) })
        }
        #expect(sequenceWeights.values.contains(0))
    }

    @Test("low-precision sampler logits: weights near 1 but not 1; no mismatch, no sampler_logp")
    func samplerPrecision() throws {
        var trainer = try makeTrainer("sampler_precision=bfloat16")
        try trainer.train(iterations: 20)
        let weights = try #require(trainer.latest?.breakdown.samplerWeight).values
        #expect(weights.contains { $0 != 1 } && weights.allSatisfy { abs($0 - 1) < 0.1 })
        var exact = try Trainer()
        try exact.train(iterations: 2)
        #expect(exact.latest?.breakdown.samplerWeight == nil && exact.latest?.batch.hasSampler == false)
    }
}
