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

/// One of `choices`, drawn by `rng`.
func pick<T>(_ choices: [T], _ rng: inout SeededGenerator) -> T { choices[rng.integer(0, choices.count - 1)] }

/// A random batch for property and agreement tests: ragged lengths (empty completions
/// included), off-policy log-ratios from tiny to far outside the clip range, groups whose rewards
/// are all equal, optional reference log-probs, entropies and sampler log-probs, and (each in
/// some batches) per-token loss masks, truncated completions and several reward functions with
/// unscorable entries.
func randomBatch(_ rng: inout SeededGenerator, groups: Int? = nil, groupSize: Int? = nil, maxLength: Int = 6,
                 offPolicy: Bool = true, reference: Bool = true, entropy: Bool = true,
                 sampler: Bool? = nil, logRatioScale: Double? = nil, extras: Bool = true) -> Batch {
    let withSampler = sampler ?? (rng.integer(0, 3) == 0)
    let g = groupSize ?? rng.integer(2, 5)
    let scale = logRatioScale ?? [0.01, 0.1, 0.5, 2.0][rng.integer(0, 3)]
    let masks = extras && rng.integer(0, 3) == 0
    let truncation = extras && rng.integer(0, 3) == 0
    let functions = extras && rng.integer(0, 3) == 0 ? rng.integer(1, 3) : 0
    let policyWeights = extras && rng.integer(0, 4) == 0  // given per-token weights (verl's rollout_is_weights)
    let penalties = extras && rng.integer(0, 4) == 0  // log-ratio penalties at some tokens (verl's kl_cov)
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
            var c = Completion(reward: reward, logp: logp, oldLogp: old, refLogp: ref, entropy: ent, samplerLogp: samp)
            if masks { c.mask = (0..<n).map { _ in rng.integer(0, 4) != 0 } }
            if truncation { c.truncated = rng.integer(0, 2) == 0 }
            if policyWeights { c.policyWeight = (0..<n).map { _ in rng.integer(0, 5) == 0 ? 0 : rng.uniform(0, 3) } }
            if penalties { c.logRatioPenalty = (0..<n).map { _ in rng.integer(0, 2) == 0 ? rng.uniform(-1, 2) : 0 } }  // verl takes a negative ppo_kl_coef
            if functions > 0 {
                let unscorable = rng.integer(0, 7) == 0
                c.rewardsPerFunction = (0..<functions).map { _ in
                    unscorable || rng.integer(0, 6) == 0 ? nil : (flat ? flatValue : Double(rng.integer(0, 2)) / 2)
                }
            }
            completions.append(c)
        }
        result.append(Group(completions: completions))
    }
    return Batch(groups: result)
}

/// A random configuration: every enumerated option drawn from its `allCases`, the numbers from
/// a few values each (its default among them). `reward_weights` is drawn for `batch` when given.
func randomConfig(_ rng: inout SeededGenerator, reference: Bool = true, for batch: Batch? = nil) -> GRPOConfig {
    var c = GRPOConfig()
    c.lossType = pick(GRPOConfig.LossType.allCases, &rng)
    c.policyObjective = pick([nil, nil, nil] + GRPOConfig.PolicyObjective.allCases, &rng)
    c.droBeta = pick([0.1, 0.5, 2], &rng)
    c.epsilon = pick([0.1, 0.2, 0.3], &rng)
    c.epsilonHigh = pick([nil, 0.28, 0.5, 1.5, 5], &rng)
    c.delta = pick([nil, 1.5, 3.0], &rng)
    c.beta = reference ? pick([0, 0.04, 0.5], &rng) : 0
    c.useBiasCorrectionKL = pick([false, true], &rng)
    c.scaleRewards = pick(GRPOConfig.ScaleRewards.allCases, &rng)
    c.multiObjectiveAggregation = pick(GRPOConfig.MultiObjectiveAggregation.allCases, &rng)
    c.importanceSamplingLevel = pick(GRPOConfig.ImportanceSamplingLevel.allCases, &rng)
    c.maxCompletionLength = pick([6, 8, 100], &rng)
    c.topEntropyQuantile = pick([1, 1, 0.2, 0.5], &rng)
    c.sapoTemperaturePos = pick([1.0, 0.5, 3.0], &rng)
    c.sapoTemperatureNeg = pick([1.05, 0.2, 2.0], &rng)
    c.vespoKPos = pick([2.0, 0.5, 4.0], &rng)
    c.vespoLambdaPos = pick([3.0, 0, 1.0], &rng)
    c.vespoKNeg = pick([3.0, 1.0], &rng)
    c.vespoLambdaNeg = pick([2.0, 5.0], &rng)
    c.offPolicyMaskThreshold = pick([nil, nil, 0, 0.05, 0.5], &rng)
    c.entropyCoef = pick([0, 0, 0.01, 0.3, -0.1], &rng)
    c.useAdaptiveEntropy = pick([false, true], &rng)
    c.maskTruncatedCompletions = pick([false, true], &rng)
    c.stdEstimator = pick(GRPOConfig.StdEstimator.allCases, &rng)
    c.stdEpsilon = pick([1e-4, 1e-6, 0], &rng)
    c.klEstimator = pick(GRPOConfig.KLEstimator.allCases, &rng)
    c.vllmImportanceSamplingCorrection = rng.integer(0, 3) != 0
    c.vllmImportanceSamplingMode = pick(GRPOConfig.SamplerCorrectionMode.allCases, &rng)
    // VESPO takes the token modes only (TRL refuses the others).
    if c.objective.foldsSamplerWeight && c.vllmImportanceSamplingMode.isSequenceLevel {
        c.vllmImportanceSamplingMode = pick([.tokenTruncate, .tokenMask], &rng)
    }
    c.vllmImportanceSamplingClipMax = pick([1.5, 3.0, nil], &rng)
    c.vllmImportanceSamplingClipMin = pick([nil, nil, 0.5], &rng)
    if c.vllmImportanceSamplingClipMax == nil && c.vllmImportanceSamplingClipMin == nil { c.vllmImportanceSamplingClipMin = 0.2 }
    c.lossAggMode = pick([nil, nil] + GRPOConfig.Aggregation.allCases, &rng)
    c.policyAggMode = pick([nil, nil] + GRPOConfig.Aggregation.allCases, &rng)
    c.logRatioClamp = pick([nil, nil, 20, 0.3], &rng)
    c.deltaForm = pick(GRPOConfig.DeltaForm.allCases, &rng)
    c.cispoClip = pick(GRPOConfig.CISPOClip.allCases, &rng)
    c.lossScaleFactor = pick([nil, 4, 10], &rng)
    c.countDivisor = pick(GRPOConfig.CountDivisor.allCases, &rng)
    c.klClamp = pick([false, true], &rng)
    c.klStraightThrough = pick([false, true], &rng)
    c.entropyAggregation = pick(GRPOConfig.EntropyAggregation.allCases, &rng)
    c.sequenceRatioGradient = pick(GRPOConfig.SequenceRatioGradient.allCases, &rng)
    c.sequenceLogRatioCap = pick([nil, nil, 10, 0.1], &rng)
    if let batch, rng.integer(0, 1) == 0 {
        let functions = batch.completions.first?.rewardsPerFunction?.count ?? 1
        c.rewardWeights = (0..<functions).map { _ in pick([1, 0.5, 2, -1], &rng) }
    }
    return c
}

/// A golden fixture's batch groups (`trl_terms.json`, `verl_terms.json`), read as `explain`
/// reads a batch file's: rewards (or one list per reward function), per-token log-probs,
/// entropies, `truncated` flags and 0/1 masks.
func fixtureGroups(_ batch: [String: Any]) -> [Group] {
    (batch["groups"] as! [[String: Any]]).map { group -> Group in
        let rows = group["completions"] as! [[String: Any]]
        let rewards = group["rewards"] as? [Double]
        let perFunction = group["rewards_per_func"] as? [[Any]]
        return Group(completions: rows.enumerated().map { i, c in
            var completion = Completion(
                reward: rewards?[i] ?? 0, logp: c["logp"] as! [Double], oldLogp: c["old_logp"] as? [Double],
                refLogp: c["ref_logp"] as? [Double], entropy: c["entropy"] as? [Double],
                samplerLogp: c["sampler_logp"] as? [Double])
            completion.rewardsPerFunction = perFunction?[i].map { $0 as? Double }
            completion.truncated = c["truncated"] as? Bool ?? false
            completion.mask = (c["mask"] as? [Int])?.map { $0 != 0 }
            return completion
        })
    }
}
