import Testing
@testable import GRPO

/// The forking-token mask: torch.quantile's threshold to the last bit, compared in float32.
@Suite("Entropy mask (top_entropy_quantile)")
struct EntropyMaskTests {
    @Test("a whole-number rank returns that value exactly (torch's fused multiply-add)")
    func wholeRank() {
        // rho = 0.8 over 6 tokens: rank 0.2 * 5 = 1 (in float32), so the threshold is the second smallest.
        let entropies: [[Double]] = [[2.932345138014618, 2.800336928235931, 3.45503633688143],
                                     [1.304377891473353, 0.9959073848217135, 0.29858313194488684]]
        for rank in GRPOConfig.QuantileRank.allCases {
            #expect(Naive.entropyThreshold(entropies: entropies, counted: entropies.map { $0.map { _ in true } }, topQuantile: 0.8,
                                           rank: rank) == Double(Float(0.9959073848217135)))
        }
    }

    @Test("a token whose entropy is the threshold keeps its policy term")
    func tiesKept() throws {
        // All entropies equal (a uniform policy's log 4): every token is at the threshold.
        let e = 1.3862943611198906
        var config = GRPOConfig()
        config.beta = 0
        config.topEntropyQuantile = 0.2
        let batch = Batch(groups: [Group(completions: [
            Completion(reward: 1, logp: [-1, -1], entropy: [e, e]), Completion(reward: 0, logp: [-1, -1], entropy: [e, e]),
        ])])
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            #expect(b.entropyMask!.values == [true, true, true, true])
        }
    }

    @Test("comparing doubles with float32Cut is the float32 comparison")
    func cut() {
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<20_000 {
            let t = Double(Float(rng.uniform(0, 4)))
            let cut = TorchRules.float32Cut(t)
            // Doubles right around the cut and around t.
            for e in [cut, cut.nextDown, cut.nextUp, t, t.nextDown, t.nextUp, rng.uniform(0, 4)] {
                #expect((e >= cut) == Naive.entropyMask(entropy: e, threshold: t), "e \(e), threshold \(t)")
            }
        }
    }
}
