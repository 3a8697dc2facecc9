import Testing
@testable import GRPO

/// `Vectorized.lossAndGradient` checks a `FlatBatch`'s layout before its hot loop: a batch whose
/// offsets claim more tokens than its arrays hold is refused, not read past its end.
@Suite("FlatBatch layout is checked before the kernel reads it")
struct FlatBatchLayoutTests {
    /// Two completions of 2 and 1 tokens, on-policy.
    func flat() -> FlatBatch {
        FlatBatch(logp: [-1, -2, -0.5], oldLogp: [-1, -2, -0.5], refLogp: [], entropy: [], offsets: [0, 2, 3],
                  rewards: [1, 0], groupSize: 2)
    }

    func message(_ flat: FlatBatch, advantages: [Double] = [1, -1], config: GRPOConfig = GRPOConfig()) -> String? {
        var config = config
        config.beta = 0
        var grad: [Double] = []
        do {
            _ = try Vectorized.lossAndGradient(flat, advantages: advantages, config: config, gradient: &grad)
            return nil
        } catch { return error.message }
    }

    @Test("a well-formed batch computes as before")
    func wellFormed() {
        #expect(message(flat()) == nil)
    }

    @Test("each malformed layout is refused with what was wrong")
    func malformed() {
        var longer = flat()
        longer.offsets = [0, 2, 9]  // 9 tokens claimed, 3 held: the read that segfaulted in release
        #expect(message(longer) == "FlatBatch: logp has 3 values but the offsets say 9 tokens")
        var decreasing = flat()
        decreasing.offsets = [0, 3, 2]
        #expect(message(decreasing) == "FlatBatch: offsets[2] = 2 is below offsets[1] = 3; offsets never decrease")
        var missing = flat()
        missing.offsets = [0, 3]
        #expect(message(missing) == "FlatBatch: 2 offsets for 2 completions; give one more offset than completions")
        var shortOld = flat()
        shortOld.oldLogp = [-1]
        #expect(message(shortOld) == "FlatBatch: oldLogp has 1 values but the offsets say 3 tokens")
        var reference = flat()
        reference.hasReference = true
        #expect(message(reference) == "FlatBatch: refLogp has 0 values but the offsets say 3 tokens")
        var weights = flat()
        weights.policyWeight = [1]
        #expect(message(weights) == "FlatBatch: policyWeight has 1 values but the offsets say 3 tokens")
        #expect(message(flat(), advantages: [1]) == "FlatBatch: 1 advantages for 2 completions; give one per completion")
        var masked = GRPOConfig()
        masked.topEntropyQuantile = 0.2
        #expect(message(flat(), config: masked)?.hasPrefix("the options use entropies") == true)
    }
}
