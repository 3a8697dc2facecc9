import Foundation
import Testing
@testable import GRPO

@Suite("Properties that hold for every batch")
struct PropertyTests {
    @Test("advantages sum to zero in every group")
    func advantagesSumToZero() throws {
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<200 {
            let batch = randomBatch(&rng)
            var config = randomConfig(&rng)
            config.beta = 0
            let a = try Naive.breakdown(batch, config: config).advantages
            let g = batch.groupSize
            for k in 0..<batch.groups.count {
                let group = a[(k * g)..<(k * g + g)]
                let sum = group.reduce(0, +)
                #expect(abs(sum) <= 1e-12 * max(1, group.map(abs).max()!), "group \(k) sums to \(sum)")
            }
        }
    }

    @Test("on-policy: every ratio is exactly 1 and nothing is clipped")
    func onPolicyRatio() throws {
        var rng = SeededGenerator(seed: 6)
        for _ in 0..<100 {
            let batch = randomBatch(&rng, offPolicy: false)
            let config = randomConfig(&rng)
            for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
                #expect(b.ratio.values.allSatisfy { $0 == 1 })
                #expect(b.metrics.clipRatioRegion == 0)
                #expect(b.branch.values.allSatisfy { $0 == .unclipped })
            }
        }
    }

    @Test("k3 >= 0 everywhere, 0 at logp = ref_logp, and still >= 0 for differences of 1e-8")
    func k3NonNegative() throws {
        var config = GRPOConfig()
        config.lossType = .bnpo
        config.beta = 1
        var rng = SeededGenerator(seed: 8)
        var logp: [Double] = [], ref: [Double] = []
        for _ in 0..<2000 {
            let x = -rng.uniform(0, 5)
            logp.append(x)
            // Differences from 0 and 1e-8 up to several nats.
            ref.append(x + [0, 1e-8, -1e-8, 1e-12, rng.normal(), 3 * rng.normal()][rng.integer(0, 5)])
        }
        let batch = Batch(groups: [Group(completions: [
            Completion(reward: 0, logp: logp, refLogp: ref),
            Completion(reward: 0, logp: [-1], refLogp: [-1]),
        ])])
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            #expect(b.kl!.values.allSatisfy { $0 >= 0 })
            #expect(b.kl![1, 0] == 0)
        }
        // The textbook form exp(d) - d - 1 goes negative at d = 1e-8; expm1(d) - d does not.
        let d = 1e-8
        #expect(exp(d) - d - 1 < 0)
        #expect(expm1(d) - d >= 0)
    }

    @Test("per-token weights sum to 1 for grpo and bnpo/dapo, and to N / (B L) for dr_grpo")
    func weightsSum() throws {
        var rng = SeededGenerator(seed: 10)
        for _ in 0..<100 {
            let batch = randomBatch(&rng)
            guard batch.tokenCount > 0 else { continue }
            var config = GRPOConfig()
            config.maxCompletionLength = 8
            for lossType in GRPOConfig.LossType.allCases {
                config.lossType = lossType
                let rowWeights = try Vectorized.breakdown(batch, config: config).weight
                let w = zip(rowWeights, batch.completions).reduce(0) { $0 + $1.0 * Double($1.1.length) }  // sum over tokens
                let emptyRows = batch.completions.filter { $0.length == 0 }.count
                switch lossType {
                case .grpo:
                    // Each non-empty completion's tokens share 1/B.
                    expectClose(w, Double(batch.completionCount - emptyRows) / Double(batch.completionCount), relative: 1e-12)
                case .bnpo, .dapo: expectClose(w, 1, relative: 1e-12)
                case .drGRPO: expectClose(w, Double(batch.tokenCount) / Double(batch.completionCount * 8), relative: 1e-12)
                }
            }
        }
    }
}
