import Foundation
import Testing
@testable import GRPO

/// |a - b| within `relative` of the larger magnitude, or within `absolute` (for values near 0).
func close(_ a: Double, _ b: Double, relative: Double = 1e-12, absolute: Double = 1e-15) -> Bool {
    if a == b { return true }
    return abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
}

func expectClose(_ a: Double, _ b: Double, relative: Double = 1e-12, absolute: Double = 1e-15,
                 _ what: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(close(a, b, relative: relative, absolute: absolute), "\(what()): \(a) vs \(b)", sourceLocation: sourceLocation)
}

func expectClose(_ a: [Double], _ b: [Double], relative: Double = 1e-12, absolute: Double = 1e-15,
                 _ what: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what()): \(a.count) vs \(b.count) values", sourceLocation: sourceLocation)
    for (k, (x, y)) in zip(a, b).enumerated() where !close(x, y, relative: relative, absolute: absolute) {
        Issue.record("\(what())[\(k)]: \(x) vs \(y)", sourceLocation: sourceLocation)
        return
    }
}

/// A random batch for property and agreement tests: ragged lengths (empty completions
/// included), off-policy log-ratios from tiny to far outside the clip range, groups whose rewards
/// are all equal, optional reference log-probs and entropies.
func randomBatch(_ rng: inout SeededGenerator, groups: Int? = nil, groupSize: Int? = nil, maxLength: Int = 6,
                 offPolicy: Bool = true, reference: Bool = true, entropy: Bool = true,
                 sampler: Bool? = nil, logRatioScale: Double? = nil) -> Batch {
    let withSampler = sampler ?? (rng.integer(0, 3) == 0)
    let g = groupSize ?? rng.integer(2, 5)
    let scale = logRatioScale ?? [0.01, 0.1, 0.5, 2.0][rng.integer(0, 3)]
    var result: [Group] = []
    for _ in 0..<(groups ?? rng.integer(1, 4)) {
        let binary = rng.integer(0, 2) == 0
        let flat = rng.integer(0, 4) == 0  // all rewards equal
        let flatValue = rng.uniform()
        var completions: [Completion] = []
        for _ in 0..<g {
            let n = rng.integer(0, maxLength)
            let logp = (0..<n).map { _ in -rng.uniform(0.01, 4) }
            let old = offPolicy ? logp.map { $0 + scale * rng.normal() } : logp
            let ref = reference ? logp.map { $0 + 0.3 * rng.normal() } : nil
            let ent = entropy ? (0..<n).map { _ in rng.uniform(0, 3) } : nil
            let samp = withSampler ? old.map { $0 + 0.3 * rng.normal() } : nil
            let reward = flat ? flatValue : (binary ? Double(rng.integer(0, 1)) : rng.uniform())
            completions.append(Completion(reward: reward, logp: logp, oldLogp: old, refLogp: ref, entropy: ent,
                                          samplerLogp: samp))
        }
        result.append(Group(completions: completions))
    }
    return Batch(groups: result)
}

/// A random configuration covering every option value.
func randomConfig(_ rng: inout SeededGenerator, reference: Bool = true) -> GRPOConfig {
    var c = GRPOConfig()
    c.lossType = GRPOConfig.LossType.allCases[rng.integer(0, 3)]
    c.epsilon = [0.1, 0.2, 0.3][rng.integer(0, 2)]
    c.epsilonHigh = [nil, 0.28, 0.5][rng.integer(0, 2)]
    c.delta = [nil, 1.5, 3.0][rng.integer(0, 2)]
    c.beta = reference ? [0, 0.04, 0.5][rng.integer(0, 2)] : 0
    c.useBiasCorrectionKL = rng.integer(0, 1) == 1
    c.scaleRewards = GRPOConfig.ScaleRewards.allCases[rng.integer(0, 2)]
    c.importanceSamplingLevel = GRPOConfig.ImportanceSamplingLevel.allCases[rng.integer(0, 1)]
    c.maxCompletionLength = [6, 8, 100][rng.integer(0, 2)]
    c.topEntropyQuantile = [1, 1, 0.2, 0.5][rng.integer(0, 3)]
    c.stdEstimator = GRPOConfig.StdEstimator.allCases[rng.integer(0, 1)]
    c.stdEpsilon = [1e-4, 1e-6, 0][rng.integer(0, 2)]
    c.klEstimator = GRPOConfig.KLEstimator.allCases[rng.integer(0, 2)]
    c.vllmImportanceSamplingCorrection = rng.integer(0, 3) != 0
    c.vllmImportanceSamplingMode = GRPOConfig.SamplerCorrectionMode.allCases[rng.integer(0, 3)]
    c.vllmImportanceSamplingClipMax = [1.5, 3.0, nil][rng.integer(0, 2)]
    c.vllmImportanceSamplingClipMin = [nil, nil, 0.5][rng.integer(0, 2)]
    if c.vllmImportanceSamplingClipMax == nil && c.vllmImportanceSamplingClipMin == nil { c.vllmImportanceSamplingClipMin = 0.2 }
    return c
}
