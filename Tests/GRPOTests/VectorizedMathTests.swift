import Foundation
import Testing
@testable import GRPO

/// The vector exp and expm1 the kernel uses, against libm (which the naive path uses).
@Suite("Vectorized math: exp and expm1 against libm")
struct VectorizedMathTests {
    /// Relative difference, 0 when both are equal (including both infinite or both NaN).
    func relativeDifference(_ a: Double, _ b: Double) -> Double {
        if a == b || (a.isNaN && b.isNaN) { return 0 }
        return abs(a - b) / max(abs(a), abs(b))
    }

    @Test("within 1e-15 relative of libm from tiny to the edge of overflow")
    func ranges() {
        var rng = SeededGenerator(seed: 11)
        for scale in [1e-300, 1e-20, 1e-8, 1e-3, 0.1, 0.35, 1, 5, 50, 700] {
            var worstExp = 0.0, worstExpm1 = 0.0
            for _ in 0..<20_000 {
                let x = scale * (2 * rng.uniform() - 1)
                worstExp = max(worstExp, relativeDifference(VectorMath.exp(x), exp(x)))
                worstExpm1 = max(worstExpm1, relativeDifference(VectorMath.expm1(x), expm1(x)))
            }
            #expect(worstExp <= 1e-15, "exp, |x| < \(scale): \(worstExp)")
            #expect(worstExpm1 <= 1e-15, "expm1, |x| < \(scale): \(worstExpm1)")
        }
    }

    @Test("k3 = expm1(d) - d stays >= 0 and accurate for tiny d")
    func k3() {
        for d in [1e-12, -1e-12, 1e-8, -1e-8, 1e-5, -1e-5, 0.01, -0.01, 0.3, -0.3] {
            let fast = VectorMath.expm1(d) - d, reference = expm1(d) - d
            #expect(fast >= 0)
            #expect(abs(fast - reference) <= 1e-15 * abs(reference) + 1e-300, "d = \(d): \(fast) vs \(reference)")
        }
    }

    @Test("outside |x| <= 708, and for special values, the result is exactly libm's")
    func edges() {
        let values: [Double] = [0, -0.0, 708, -708, 708.5, -708.5, 709.7, 709.8, 710, 1000, -744, -745.2, -746, -1000,
                                .infinity, -.infinity, .nan, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                .leastNonzeroMagnitude, -.leastNonzeroMagnitude]
        for x in values {
            #expect(relativeDifference(VectorMath.exp(x), exp(x)) <= 1e-15, "exp(\(x)): \(VectorMath.exp(x)) vs \(exp(x))")
            #expect(relativeDifference(VectorMath.expm1(x), expm1(x)) <= 1e-15, "expm1(\(x))")
        }
        #expect(VectorMath.exp(0) == 1)
        #expect(VectorMath.expm1(0) == 0)
        #expect(VectorMath.exp(800) == .infinity)
        #expect(VectorMath.exp(-800) == 0)
        #expect(VectorMath.expm1(-800) == -1)
    }

    @Test("lanes in and out of range in one vector are each right")
    func mixedLanes() {
        let x = Lanes(0.5, 800, -800, .nan)
        let y = VectorMath.exp(x), z = VectorMath.expm1(x)
        #expect(relativeDifference(y[0], exp(0.5)) <= 1e-15)
        #expect(y[1] == .infinity && y[2] == 0 && y[3].isNaN)
        #expect(relativeDifference(z[0], expm1(0.5)) <= 1e-15)
        #expect(z[1] == .infinity && z[2] == -1 && z[3].isNaN)
    }
}

/// The kernel on big batches: both threads, both row sources, every option.
@Suite("Vectorized kernel on large batches")
struct VectorizedKernelTests {
    @Test("lossAndGradient (flat rows) equals the breakdown (rows read in place), bit for bit, over the parallel threshold")
    func largeBatchesBitForBit() throws {
        var rng = SeededGenerator(seed: 5)
        for k in 0..<12 {
            let batch = randomBatch(&rng, groups: 24, groupSize: 4, maxLength: 1100, sampler: k % 3 == 0)
            #expect(batch.tokenCount >= Vectorized.parallelThreshold)
            var config = randomConfig(&rng)
            if k % 4 == 0 { config.importanceSamplingLevel = .sequence }
            config.maxCompletionLength = 2000
            let full = try Vectorized.breakdown(batch, config: config)
            var grad: [Double] = []
            let loss = try Vectorized.lossAndGradient(FlatBatch(batch), advantages: full.advantages, config: config, gradient: &grad)
            #expect(loss == full.loss, "batch \(k)")
            #expect(grad == full.gradLogp.values, "batch \(k)")
        }
    }

    @Test("row lengths that are not multiples of the lane count, and empty rows")
    func partialChunks() throws {
        var config = GRPOConfig()
        config.delta = 1.5
        config.useBiasCorrectionKL = true
        for length in 0...9 {
            let logp = (0..<length).map { -0.1 * Double($0 + 1) }
            let batch = Batch(groups: [Group(completions: [
                Completion(reward: 1, logp: logp, oldLogp: logp.map { $0 + 0.3 }, refLogp: logp.map { $0 - 0.2 }),
                Completion(reward: 0, logp: logp, oldLogp: logp.map { $0 - 0.3 }, refLogp: logp.map { $0 + 0.2 }),
            ])])
            let n = try Naive.breakdown(batch, config: config), v = try Vectorized.breakdown(batch, config: config)
            #expect(abs(n.loss - v.loss) <= 1e-14, "length \(length)")
            for (a, b) in zip(n.gradLogp.values, v.gradLogp.values) { #expect(abs(a - b) <= 1e-14, "length \(length)") }
            #expect(n.branch.values == v.branch.values)
        }
    }
}

/// Where the numbers leave the range of a double: the vectorized path gives what the naive one
/// gives (finite values to 1e-12, the same inf, NaN where the naive path has NaN).
@Suite("Vectorized path at numeric extremes")
struct VectorizedExtremeTests {
    static func batch(_ rewards: [Double], _ logp: [[Double]], old: [[Double]]? = nil, ref: [[Double]]? = nil) -> Batch {
        Batch(groups: [Group(completions: rewards.indices.map {
            Completion(reward: rewards[$0], logp: logp[$0], oldLogp: old?[$0], refLogp: ref?[$0])
        })])
    }

    func same(_ a: [Double], _ b: [Double], _ what: String) {
        #expect(a.count == b.count, "\(what)")
        for (x, y) in zip(a, b) {
            let agree = x == y || (x.isNaN && y.isNaN) || (x.isFinite && y.isFinite && close(x, y, relative: 1e-12, absolute: 1e-300))
            #expect(agree, "\(what): naive \(x) vs vectorized \(y)")
        }
    }

    /// Bias-corrected KL where the KL overflows and the ratio underflows: logp = -800 against
    /// old -0.1 (r = e^-799.9 = 0 in doubles) and ref -0.5 (d = 799.5, k3 = e^799.5 = inf). The
    /// product in logs is e^(d + log r) = e^(ref - old) = e^-0.4 = 0.670320046; dapo with beta
    /// 0.04 and A = +-0.5 / (0.70711 + 1e-4) = +-0.7070068 (rewards 1, 0): the first token's
    /// policy term is -min(0 A, 0.8 A) = 0, the second's (ratio 1, A = -0.7070068) is 0.7070068,
    /// so loss = (0.04 * 0.670320046 + 0.7070068) / 2 = 0.3669097986 (the old code gave NaN).
    @Test("bias-corrected KL that overflows at a ratio that underflows: the product in logs, no NaN",
          arguments: [GRPOConfig.ImportanceSamplingLevel.token, .sequence])
    func overflowedProduct(level: GRPOConfig.ImportanceSamplingLevel) throws {
        var config = GRPOConfig()
        config.lossType = .dapo
        config.useBiasCorrectionKL = true
        config.importanceSamplingLevel = level
        let batch = Self.batch([1, 0], [[-800], [-1]], old: [[-0.1], [-1]], ref: [[-0.5], [-1]])
        let n = try Naive.breakdown(batch, config: config), v = try Vectorized.breakdown(batch, config: config)
        for b in [n, v] {
            #expect(abs(b.kl![0, 0] - exp(-0.4)) < 1e-13, "\(level): \(b.kl![0, 0])")  // -800 + 0.1 rounds
            #expect(abs(b.loss - (0.04 * exp(-0.4) + 0.5 / (0.5.squareRoot() + 1e-4)) / 2) < 1e-13, "\(level): \(b.loss)")
            #expect(b.gradLogp.values.allSatisfy(\.isFinite) && b.gradLogp[0, 0] == 0)
        }
        same(n.gradLogp.values, v.gradLogp.values, "\(level) grad")
        same([n.loss], [v.loss], "\(level) loss")
        // k2 overflows only for |d| > 1.3e154: the product in logs is 2 log|d| - log 2 + log r.
        let k2 = Naive.overflowedBiasCorrectedKL(d: 1e200, logRatio: -1000, estimator: .k2)
        #expect(abs(log(k2) - (2 * log(1e200) - log(2) - 1000)) < 1e-12)
        #expect(abs(Naive.overflowedBiasCorrectedKL(d: 800, logRatio: -800.4, estimator: .k3) - exp(-0.4)) < 1e-13)
    }

    @Test("overflowed ratios, A = 0, zero KL at an infinite ratio, rewards near 1e308", arguments: 0..<12)
    func extremes(_ k: Int) throws {
        var config = GRPOConfig()
        config.beta = 0
        let cases: [(Batch, (inout GRPOConfig) -> Void)] = [
            (Self.batch([1, 0], [[-0.1], [-0.5]], old: [[-1000.1], [-0.5]]), { _ in }),                   // clipped, ratio inf
            (Self.batch([1, 0], [[-0.5], [-0.1]], old: [[-0.5], [-1000.1]]), { _ in }),                   // unclipped, loss inf
            (Self.batch([1, 0], [[-0.5], [-0.1]], old: [[-0.5], [-1000.1]]), { $0.delta = 3 }),           // capped at delta
            (Self.batch([1, 1], [[-0.1], [-0.5]], old: [[-1000.1], [-0.5]]), { _ in }),                   // A = 0, ratio inf
            (Self.batch([1, 0], [[-0.1, -0.1], [-0.5]], old: [[-1000.1, -1000.1], [-0.5]]),
             { $0.importanceSamplingLevel = .sequence }),
            (Self.batch([1, 1], [[-0.1, -0.1], [-0.5]], old: [[-1000.1, -1000.1], [-0.5]]),
             { $0.importanceSamplingLevel = .sequence }),
            (Self.batch([1, 0], [[-0.1], [-0.5]], old: [[-1000.1], [-0.5]], ref: [[-0.1], [-0.5]]),       // KL 0 at ratio inf
             { $0.beta = 0.04; $0.useBiasCorrectionKL = true }),
            (Self.batch([1, 0], [[-0.1], [-0.5]], old: [[-1000.1], [-0.5]], ref: [[-0.1], [-0.5]]),
             { $0.beta = 0.04; $0.useBiasCorrectionKL = true; $0.klEstimator = .k1 }),
            (Self.batch([1, 0], [[-1000], [-0.1]], ref: [[0], [-1000]]), { $0.beta = 0.04 }),             // k3 = inf
            (Self.batch([1e308, 1e308, -1e308], [[-1], [-1], [-1]]), { _ in }),                           // sum overflows
            (Self.batch([1e308, -1e308], [[-1], [-1]]), { _ in }),                                        // squares overflow
            (Self.batch([1e308, -1e308], [[-1], [-1]]), { $0.scaleRewards = .batch }),
        ]
        let (batch, edit) = cases[k]
        edit(&config)
        let n = try Naive.breakdown(batch, config: config), v = try Vectorized.breakdown(batch, config: config)
        // A loss that is 0 up to rounding (rewards near 1e308: A sums to 0) is held to the size of
        // its terms, since the two paths add them in different orders.
        let termScale = n.perTokenLoss.values.filter(\.isFinite).map(abs).max() ?? 0
        if n.loss.isFinite && v.loss.isFinite {
            #expect(close(n.loss, v.loss, relative: 1e-12, absolute: 1e-12 * termScale), "case \(k) loss: \(n.loss) vs \(v.loss)")
        } else {
            same([n.loss], [v.loss], "case \(k) loss")
        }
        same(n.advantages, v.advantages, "case \(k) advantages")
        same(n.groupMean + n.groupStd, v.groupMean + v.groupStd, "case \(k) mean and std")
        same(n.ratio.values, v.ratio.values, "case \(k) ratio")
        same(n.perTokenLoss.values, v.perTokenLoss.values, "case \(k) per-token loss")
        same(n.gradLogp.values, v.gradLogp.values, "case \(k) grad")
        same(n.kl?.values ?? [], v.kl?.values ?? [], "case \(k) kl")
        #expect(n.branch.values == v.branch.values, "case \(k) branch")
    }
}
