import Testing
@testable import GRPO

/// `Breakdown.lossRoundingBound`: when a loss that cancels on paper is rounding noise.
@Suite("Rounding noise in the loss")
struct RoundingTests {
    /// Lesson 01's batch: one group, rewards 1 and 0, on-policy, beta 0.
    let batch = Batch(groups: [Group(completions: [
        Completion(reward: 1, logp: [-0.5, -1.0]),
        Completion(reward: 0, logp: [-0.2, -0.7, -1.2]),
    ])])

    @Test("the bound by hand: 13 u A for the sum, 16 u A for the advantages, u = 2^-53")
    func byHand() throws {
        var config = GRPOConfig()
        config.beta = 0
        let b = try Naive.breakdown(batch, config: config)
        // Every r = 1, so L = -A: answer 0's two tokens weigh 1/4 each, answer 1's three 1/6 each:
        // sum |w L| = 2 (1/4) A + 3 (1/6) A = A = 0.5 / (0.7071067812 + 1e-4), about 0.70700.
        // The sum: (5 tokens + 8) u A. The advantages: mean 0.5 and divisor s = std + 1e-4 make
        // mean / s = A, so dA = 4 u (2 A + 2 A) = 16 u A at each token; answer 0's tokens add
        // 1/4 x (1 + 1) x 16 u A = 8 u A, answer 1's 1/6 x 3 x 16 u A = 8 u A. In all 29 u A.
        let a = 0.5 / (0.5.squareRoot() + 1e-4)
        expectClose(b.advantages[0], a)
        expectClose(b.lossRoundingBound, 29 * 0x1p-53 * a, relative: 1e-12, absolute: 0, "bound")
        // The exact loss here is 0, so it is no noise; 1e-17 would be, 1e-14 would not.
        #expect(b.loss == 0 && !b.lossIsRoundingNoise)
        var shifted = b
        shifted.loss = 1e-17
        #expect(shifted.lossIsRoundingNoise)
        shifted.loss = 1e-14
        #expect(!shifted.lossIsRoundingNoise)
    }

    @Test("a loss that cancels on paper lands within the bound on both paths, over random on-policy batches")
    func cancellingLossesAreNoise() throws {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<200 {
            // On-policy, beta 0, grpo: the loss is -mean over completions of A_i, exactly 0 on paper.
            let g = rng.integer(2, 6)
            let groups = (0..<rng.integer(1, 4)).map { _ in
                Group(completions: (0..<g).map { _ in
                    Completion(reward: rng.uniform(0, 1), logp: (0..<rng.integer(1, 9)).map { _ in -rng.uniform(0.01, 5) })
                })
            }
            var config = GRPOConfig()
            config.beta = 0
            for b in [try Naive.breakdown(Batch(groups: groups), config: config), try Vectorized.breakdown(Batch(groups: groups), config: config)] {
                #expect(abs(b.loss) <= b.lossRoundingBound, "loss \(b.loss), bound \(b.lossRoundingBound)")
            }
        }
    }
}
