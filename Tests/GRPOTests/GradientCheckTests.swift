import Testing
@testable import GRPO

/// Both gradients against central finite differences of the loss:
/// d loss / d logp_t ~ (loss(logp_t + h) - loss(logp_t - h)) / 2h.
@Suite("Gradients match central finite differences")
struct GradientCheckTests {
    let h = 1e-6

    /// The loss with one token's logp moved by `shift`.
    func loss(_ batch: Batch, _ config: GRPOConfig, row: Int, token: Int, shift: Double) throws -> Double {
        var moved = batch
        var k = row
        for g in moved.groups.indices {
            if k < moved.groups[g].completions.count {
                moved.groups[g].completions[k].logp[token] += shift
                break
            }
            k -= moved.groups[g].completions.count
        }
        return try Naive.breakdown(moved, config: config).loss
    }

    /// True when a ratio sits within the finite-difference step of a kink (clip ends, delta, or
    /// the sampler cap), where the one-sided slopes differ and no derivative exists.
    func nearKink(_ r: Double, _ config: GRPOConfig) -> Bool {
        var kinks = [1 - config.epsilon, 1 + config.resolvedEpsilonHigh]
        if let delta = config.delta { kinks.append(delta) }
        return kinks.contains { abs(r - $0) < 1e-4 }
    }

    @Test("random batches, random options, both paths")
    func randomBatches() throws {
        var rng = SeededGenerator(seed: 31)
        var checked = 0
        for _ in 0..<60 {
            let batch = randomBatch(&rng, maxLength: 4)
            let config = randomConfig(&rng)
            let naive = try Naive.breakdown(batch, config: config)
            let vectorized = try Vectorized.breakdown(batch, config: config)
            for i in 0..<naive.ratio.rowCount {
                // A sequence ratio moves with every token of its row: skip the whole row near a kink.
                if naive.ratio[i].contains(where: { nearKink($0, config) }) { continue }
                for t in naive.ratio[i].indices.map({ $0 - naive.ratio.offsets[i] }) {
                    let numeric = (try loss(batch, config, row: i, token: t, shift: h)
                                   - loss(batch, config, row: i, token: t, shift: -h)) / (2 * h)
                    let scale = max(1, abs(numeric))
                    #expect(abs(naive.gradLogp[i, t] - numeric) <= 1e-6 * scale,
                            "naive grad [\(i), \(t)] \(naive.gradLogp[i, t]) vs finite difference \(numeric)")
                    #expect(abs(vectorized.gradLogp[i, t] - numeric) <= 1e-6 * scale,
                            "vectorized grad [\(i), \(t)] \(vectorized.gradLogp[i, t]) vs finite difference \(numeric)")
                    checked += 1
                }
            }
        }
        #expect(checked > 300)
    }
}
