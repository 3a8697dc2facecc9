import GRPO
import Testing
@testable import TinyPolicy

/// d loss / d theta through the whole chain (policy -> logp, entropy -> GRPO loss) against central
/// finite differences of the loss, off-policy (theta != theta_old != theta_ref), at temperature 0.7.
/// CISPO and VESPO are not here: their detached weights make their gradient differ from the
/// loss's derivative on purpose (GRPOTests' `GradientCheckTests` checks them with the ratios held).
@Suite("Gradient through policy and loss")
struct GradientTests {
    /// Loss configurations covering each term's gradient: KL (k3, k2, k1, bias-corrected),
    /// clip-higher, two-sided clipping, GSPO's sequence ratio, every loss_type, the entropy mask
    /// and the sampler correction.
    static let configs: [(String, GRPOConfig)] = {
        var list: [(String, GRPOConfig)] = [("deepseekmath (grpo, beta 0.04)", Preset.deepseekmath.config)]
        var dapo = Preset.dapo.config
        dapo.beta = 0.04
        list.append(("dapo clip-higher, beta 0.04", dapo))
        var gspo = Preset.gspo.config
        gspo.epsilon = 0.2
        gspo.epsilonHigh = 0.28
        gspo.beta = 0.04
        gspo.useBiasCorrectionKL = true
        list.append(("gspo (epsilon 0.2/0.28), bias-corrected KL", gspo))
        var trl = Preset.trl.config
        trl.beta = 0.1
        list.append(("trl, bias-corrected KL, beta 0.1", trl))
        var dr = Preset.drGRPO.config
        dr.delta = 1.3
        dr.beta = 0.04
        dr.klEstimator = .k2
        dr.maxCompletionLength = 5
        list.append(("dr_grpo, delta 1.3, k2", dr))
        var masked = GRPOConfig()
        masked.lossType = .bnpo
        masked.klEstimator = .k1
        masked.topEntropyQuantile = 0.5
        list.append(("bnpo, k1, top_entropy_quantile 0.5", masked))
        var sapo = GRPOConfig()
        sapo.lossType = .sapo
        sapo.sapoTemperatureNeg = 2
        list.append(("sapo, temperatures 1 / 2, beta 0.04", sapo))
        var luspo = Preset.luspo.config
        luspo.beta = 0.04
        list.append(("luspo (sequence level), beta 0.04", luspo))
        var masks = GRPOConfig()
        masks.lossType = .dapo
        masks.offPolicyMaskThreshold = 0.02
        masks.maskTruncatedCompletions = true
        list.append(("dapo, off-policy mask 0.02, truncated completions masked", masks))
        return list
    }()

    /// `entropyFollows`: the entropies are the perturbed policy's own in the finite differences
    /// (for the entropy bonus, whose gradient reaches theta through them); otherwise they are held.
    func check(_ config: GRPOConfig, _ label: String, path: LossPath, sampler: Bool, seed: UInt64,
               entropyFollows: Bool = false) throws {
        var rng = SeededGenerator(seed: seed)
        let task = CopyTask()
        let shape = Policy(vocabularySize: task.vocabularySize, promptCount: task.prompts.count, maxLength: 5)
        let old = randomPolicy(shape, scale: 0.5, &rng)
        let theta = perturbed(old, scale: 0.2, &rng)
        let ref = perturbed(old, scale: 0.3, &rng)
        let data = CheckData(task: task, old: old, ref: ref, prompts: [0, 3, 5], groupSize: 4, maxLength: 5,
                             temperature: 0.7, samplerTemperature: sampler ? 0.8 : nil, &rng)
        var config = config
        if sampler { config.vllmImportanceSamplingMode = .tokenTruncate; config.vllmImportanceSamplingClipMax = 1.1 }

        let evaluation = theta.evaluate(prompts: data.owners, completions: data.completions, temperature: 0.7,
                                        keepProbabilities: true)
        let b = try breakdown(data.batch(theta, entropyPolicy: theta), config, path)
        let analytic = theta.gradient(
            prompts: data.owners, completions: data.completions, evaluation: evaluation,
            gradLogp: b.gradLogp.values, gradEntropy: b.entropyGradient?.values, temperature: 0.7)

        // Rows of prompts outside the batch get no gradient; every other parameter is checked.
        let used = Set(data.prompts)
        let unused = theta.parameters.indices.filter { k in
            k < theta.previousIndex(previous: 0, token: 0) && !used.contains(k / (theta.maxLength * theta.vocabularySize))
        }
        #expect(unused.allSatisfy { analytic[$0] == 0 } && unused.count == 3 * 5 * 4)
        let h = 1e-5
        var largest = 0.0
        for k in theta.parameters.indices where !unused.contains(k) {
            var plus = theta, minus = theta
            plus.parameters[k] += h
            minus.parameters[k] -= h
            let lossPlus = try breakdown(data.batch(plus, entropyPolicy: entropyFollows ? plus : theta), config, path).loss
            let lossMinus = try breakdown(data.batch(minus, entropyPolicy: entropyFollows ? minus : theta), config, path).loss
            let numeric = (lossPlus - lossMinus) / (2 * h)
            largest = max(largest, abs(analytic[k]))
            if !close(numeric, analytic[k], relative: 1e-6, absolute: 1e-9) {
                Issue.record("\(label), \(path), parameter \(k): finite difference \(numeric) vs analytic \(analytic[k])")
                return
            }
        }
        #expect(largest > 1e-3, "\(label): the check needs a gradient that is not ~0")
    }

    @Test("each config, both paths", arguments: configs.indices)
    func gradientMatchesFiniteDifferences(_ index: Int) throws {
        let (label, config) = Self.configs[index]
        for path in LossPath.allCases {
            try check(config, label, path: path, sampler: false, seed: 11 + UInt64(index))
        }
    }

    @Test("with the sampler correction (token_truncate, cap 1.1), both paths")
    func gradientWithSamplerCorrection() throws {
        for path in LossPath.allCases {
            try check(Preset.trl.config, "trl + sampler correction", path: path, sampler: true, seed: 5)
        }
    }

    @Test("the entropy bonus reaches theta through the entropies: d H / d logit = -p (log p + H) / T, both paths")
    func entropyBonus() throws {
        var config = Preset.trl.config
        config.entropyCoef = 0.3
        for path in LossPath.allCases {
            try check(config, "trl + entropy_coef 0.3", path: path, sampler: false, seed: 17, entropyFollows: true)
        }
    }

    @Test("the batch has clipped tokens, so the check covers both branches of min")
    func checkCoversClipping() throws {
        var rng = SeededGenerator(seed: 11)
        let task = CopyTask()
        let shape = Policy(vocabularySize: task.vocabularySize, promptCount: task.prompts.count, maxLength: 5)
        let old = randomPolicy(shape, scale: 0.5, &rng)
        let theta = perturbed(old, scale: 0.2, &rng)
        let ref = perturbed(old, scale: 0.3, &rng)
        let data = CheckData(task: task, old: old, ref: ref, prompts: [0, 3, 5], groupSize: 4, maxLength: 5,
                             temperature: 0.7, samplerTemperature: nil, &rng)
        let b = try breakdown(data.batch(theta, entropyPolicy: theta), GRPOConfig(), .vectorized)
        #expect(b.branch.values.contains(.clipped))
        #expect(b.branch.values.contains(.unclipped))
    }
}
