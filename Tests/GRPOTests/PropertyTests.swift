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
                #expect((b.metrics.clipRatioRegion ?? 0) == 0)
                // CISPO's epsilon_high caps the ratio itself: a cap below 1 clips even r = 1.
                #expect((b.metrics.cispoClipRatio ?? 0) == 0 || config.resolvedEpsilonHigh < 1)
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
        // (The textbook form exp(d) - d - 1 goes negative near d = 1e-8 in doubles; the 1e-8 gaps
        // above are there to catch a KL written that way.)
    }

    @Test("per-token weights sum to the share of counted completions, to 1, to N / (B L), to N / B and to N, by aggregation")
    func weightsSum() throws {
        var rng = SeededGenerator(seed: 10)
        for _ in 0..<100 {
            let batch = randomBatch(&rng)
            var config = GRPOConfig()
            config.maxCompletionLength = 8
            config.maskTruncatedCompletions = rng.integer(0, 1) == 1
            config.vllmImportanceSamplingMode = .tokenTruncate  // vespo takes token modes only
            let counted = batch.completions.map { Naive.lossMask($0, config: config).filter { $0 }.count }
            let n = Double(counted.reduce(0, +)), b = Double(batch.completionCount)
            guard n > 0 else { continue }
            for aggregation in GRPOConfig.Aggregation.allCases {
                config.lossAggMode = aggregation
                let rowWeights = try Vectorized.breakdown(batch, config: config).weight
                let w = zip(rowWeights, counted).reduce(0) { $0 + $1.0 * Double($1.1) }  // sum over counted tokens
                switch aggregation {
                case .sequenceMeanTokenMean:
                    // Each completion with a counted token: its tokens share 1/B.
                    expectClose(w, Double(counted.filter { $0 > 0 }.count) / b, relative: 1e-12)
                case .tokenMean: expectClose(w, 1, relative: 1e-12)
                case .constantNormalizer: expectClose(w, n / (b * 8), relative: 1e-12)
                case .sequenceMeanTokenSum: expectClose(w, n / b, relative: 1e-12)
                case .tokenSum: expectClose(w, n, relative: 1e-12)
                case .sequenceMean: expectClose(w, Double(counted.filter { $0 > 0 }.count) / b, relative: 1e-12)
                }
            }
        }
    }
}
