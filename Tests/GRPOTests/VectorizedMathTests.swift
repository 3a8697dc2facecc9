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
            let loss = Vectorized.lossAndGradient(FlatBatch(batch), advantages: full.advantages, config: config, gradient: &grad)
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
