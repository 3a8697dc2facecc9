import Foundation
import GRPO
import Testing
@testable import TinyPolicy

/// A rollout or update whose numbers are not finite throws a `TrainingError` naming the first
/// such number, and leaves the trainer exactly as it was (generator, rollout, theta, moments,
/// history): all or nothing, with no checkpoint to replay.
@Suite("Training errors")
struct TrainingErrorTests {
    /// The whole saved state, byte for byte (sorted keys): equal bytes, equal trainers.
    func state(_ t: Trainer) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(t)
    }

    /// Runs `body` on `t`, expects a TrainingError whose text contains `expected`, and checks
    /// that the trainer did not change.
    func expectUnchanged(_ t: inout Trainer, _ expected: String, stage: TrainingError.Stage = .update,
                         _ body: (inout Trainer) throws(TrainingError) -> Void) throws {
        let before = try state(t)
        do throws(TrainingError) {
            try body(&t)
            Issue.record("no error; expected one with '\(expected)'")
        } catch {
            #expect(error.description.contains(expected) && error.stage == stage, "\(error)")
            #expect(error.step == t.stepCount + 1)
        }
        #expect(try state(t) == before, "the trainer changed")
    }

    @Test("temperature 1e-310: d logp / d logit carries 1 / T = inf, so d loss / d theta is not finite; step 1 is not made")
    func tinyTemperature() throws {
        var settings = TrainingSettings()
        settings.temperature = 1e-310
        var t = try Trainer(settings: settings)
        try expectUnchanged(&t, "d loss / d theta of parameter") { (t: inout Trainer) throws(TrainingError) in try t.innerStep() }
        // The update sampled its own rollout first: it was not kept either.
        #expect(t.currentRollout == nil && t.iterationCount == 0)
    }

    @Test("sgd with learning_rate 100 and mu = 4: the ratio overflows within a batch; the updates before it are kept")
    func divergingRatio() throws {
        var settings = TrainingSettings()
        settings.optimizer = .sgd
        settings.learningRate = 100
        settings.numIterations = 4
        var t = try Trainer(settings: settings)
        var made = 0
        do throws(TrainingError) {
            made = try t.train(iterations: 50)
            Issue.record("50 iterations trained without an overflow")
        } catch {
            #expect(error.description.contains("log-ratio") && error.description.contains("learning_rate (now 100, sgd)"), "\(error)")
            #expect(error.step == t.stepCount + 1 && t.history.count == t.stepCount && t.stepCount > 0)
        }
        #expect(made == 0 && t.policy.parameters.allSatisfy(\.isFinite))
        // The same failing update again: it throws again and changes nothing.
        try expectUnchanged(&t, "log-ratio") { (t: inout Trainer) throws(TrainingError) in try t.innerStep() }
    }

    @Test("sampler_precision float16 with logits past 65504: the sampler's log-probabilities are NaN; no rollout is kept")
    func float16Overflow() throws {
        var t = try Trainer()
        try t.set("sampler_precision", to: "float16")
        t.policy.parameters = t.policy.parameters.map { _ in 40_000 }  // logits 80,000: inf in float16
        try expectUnchanged(&t, "the sampler's log-probability of completion 1, token 1 is NaN", stage: .rollout) {
            (t: inout Trainer) throws(TrainingError) in try t.rollout()
        }
        try expectUnchanged(&t, "sampler_precision exact (now float16") { (t: inout Trainer) throws(TrainingError) in
            try t.innerStep()
        }
    }

    @Test("a sampler correction the batch cannot take (float16 sampler, clip_min 5 > clip_max 3): refused, not trapped")
    func correctionRefused() throws {
        var t = try Trainer()
        try t.set("sampler_precision", to: "float16")
        try t.set("vllm_importance_sampling_clip_min", to: "5")
        try expectUnchanged(&t, "the loss options do not fit the batch", stage: .rollout) { (t: inout Trainer) throws(TrainingError) in
            try t.rollout()
        }
        try expectUnchanged(&t, "the loss options do not fit the batch") { (t: inout Trainer) throws(TrainingError) in try t.innerStep() }
    }

    @Test("an external loss's update is all or nothing too: a refused gradient keeps no rollout")
    func externalAllOrNothing() throws {
        var t = try Trainer()
        try t.train(iterations: 2)
        let before = try state(t)
        #expect(throws: ExternalLossError.self) {
            try t.innerStep { batch in ExternalLoss(loss: 0, gradLogp: batch.completions.map { _ in [] }) }
        }
        #expect(try state(t) == before)
    }

    @Test("messages: NaN without a sign, short numbers, whole numbers without .0")
    func shortNumbers() {
        #expect(Trainer.short(-Double.nan) == "NaN" && Trainer.short(1) == "1" && Trainer.short(0.0500000001) == "0.05")
        #expect(Trainer.short(-.infinity) == "-inf" && Trainer.short(1e-310) == "1e-310" && Trainer.short(2.5e300) == "2.5e+300")
    }
}
