import Foundation
import Testing
@testable import GRPO

/// The golden values computed by TRL 1.16 and verl 0.9.1 themselves (Fixtures/README.md).
struct Golden: @unchecked Sendable {  // read-only after loading
    let json: [String: Any]

    static let shared: Golden = {
        let url = Bundle.module.url(forResource: "golden_values", withExtension: "json", subdirectory: "Fixtures")!
        let data = try! Data(contentsOf: url)
        return Golden(json: try! JSONSerialization.jsonObject(with: data) as! [String: Any])
    }()

    var inputs: [String: Any] { json["inputs"] as! [String: Any] }
    var lengths: [Int] { inputs["lengths"] as! [Int] }

    /// The first `lengths[i]` entries of each padded row.
    func ragged(_ padded: Any) -> [[Double]] {
        (padded as! [[Double]]).enumerated().map { Array($1.prefix(lengths[$0])) }
    }

    /// The fixture's inputs as a batch; `onPolicy` sets old_logp = logp.
    func batch(onPolicy: Bool = false) -> Batch {
        let g = inputs["G"] as! Int
        let rewards = inputs["rewards"] as! [Double]
        let logp = ragged(inputs["logp"]!), old = ragged(inputs["old_logp"]!)
        let ref = ragged(inputs["ref_logp"]!), entropy = ragged(inputs["entropies"]!)
        let completions = rewards.indices.map {
            Completion(reward: rewards[$0], logp: logp[$0], oldLogp: onPolicy ? logp[$0] : old[$0],
                       refLogp: ref[$0], entropy: entropy[$0])
        }
        return Batch(groups: stride(from: 0, to: completions.count, by: g).map {
            Group(completions: Array(completions[$0..<($0 + g)]))
        })
    }

    func trl(_ name: String) -> [String: Any] {
        (json["trl_1.16_compute_loss"] as! [String: Any])[name] as! [String: Any]
    }

    func verl(_ name: String) -> [String: Any] {
        (json["verl_0.9.1_core_algos"] as! [String: Any])[name] as! [String: Any]
    }

    func advantages(_ name: String) -> [Double] {
        (json["advantages"] as! [String: Any])[name] as! [Double]
    }
}

/// The settings of the TRL golden run, before a case's kwargs.
func trlGoldenConfig() -> GRPOConfig {
    var c = GRPOConfig()
    c.lossType = .dapo
    c.epsilon = 0.2
    c.epsilonHigh = 0.28
    c.beta = 0
    c.maxCompletionLength = 4
    c.useBiasCorrectionKL = true
    return c
}

/// Each TRL case the golden file holds, with the kwargs of that case applied.
let trlCases: [(name: String, onPolicy: Bool, configure: @Sendable (inout GRPOConfig) -> Void)] = [
    ("grpo", false, { $0.lossType = .grpo }),
    ("bnpo", false, { $0.lossType = .bnpo }),
    ("dr_grpo", false, { $0.lossType = .drGRPO }),
    ("dapo", false, { $0.lossType = .dapo }),
    ("dapo_symmetric_eps0.2", false, { $0.epsilonHigh = nil }),
    ("dapo_delta3", false, { $0.delta = 3 }),
    ("dapo_beta0.04_k3_biascorr", false, { $0.beta = 0.04; $0.useBiasCorrectionKL = true }),
    ("dapo_beta0.04_k3_nobiascorr", false, { $0.beta = 0.04; $0.useBiasCorrectionKL = false }),
    ("grpo_beta0.04_k3_nobiascorr", false, { $0.lossType = .grpo; $0.beta = 0.04; $0.useBiasCorrectionKL = false }),
    ("grpo_sequence_level(GSPO)", false, {
        $0.lossType = .grpo; $0.importanceSamplingLevel = .sequence; $0.epsilon = 3e-4; $0.epsilonHigh = 4e-4
    }),
    ("dapo_top_entropy_0.5", false, { $0.topEntropyQuantile = 0.5 }),
    ("cispo_eps_high5", false, { $0.lossType = .cispo; $0.epsilonHigh = 5 }),
    ("sapo", false, { $0.lossType = .sapo }),
    ("dapo_on_policy(logp==old, mu=1)", true, { _ in }),
    ("grpo_on_policy(logp==old, mu=1)", true, { $0.lossType = .grpo }),
]

@Suite("Golden values from TRL 1.16 and verl 0.9.1")
struct GoldenTests {
    let golden = Golden.shared

    @Test("TRL _compute_loss: loss, d loss / d logp and clip metrics", arguments: trlCases.map(\.name))
    func trlCase(name: String) throws {
        let entry = trlCases.first { $0.name == name }!
        var config = trlGoldenConfig()
        entry.configure(&config)
        let expected = golden.trl(name)
        let batch = golden.batch(onPolicy: entry.onPolicy)
        for (path, b) in [("naive", try Naive.breakdown(batch, config: config)),
                          ("vectorized", try Vectorized.breakdown(batch, config: config))] {
            expectClose(b.loss, expected["loss"] as! Double, relative: 0, absolute: 1e-9, "\(name) \(path) loss")
            let grad = golden.ragged(expected["grad_wrt_logp"]!)
            for i in grad.indices {
                expectClose(Array(b.gradLogp[i]), grad[i], relative: 0, absolute: 1e-9, "\(name) \(path) grad row \(i)")
            }
            // Every metric TRL logged for the case, under its name (no clip ratios for sapo, cispo's own).
            for (key, value) in expected["metrics"] as! [String: Double] {
                let ours = b.metrics.value(named: key)
                #expect(ours != nil, "\(name) \(path): TRL logs \(key), we do not")
                if let ours { expectClose(ours, value, relative: 0, absolute: 1e-9, "\(name) \(path) \(key)") }
            }
            expectClose(b.advantages, golden.advantages("trl_scale_group (default)"), relative: 0, absolute: 1e-8, "\(name) \(path) A")
        }
    }

    @Test("Advantages: TRL group / batch / none, verl, OpenRLHF, population std")
    func advantages() throws {
        let batch = golden.batch()
        let cases: [(String, @Sendable (inout GRPOConfig) -> Void)] = [
            ("trl_scale_group (default)", { _ in }),
            ("trl_scale_batch", { $0.scaleRewards = .batch }),
            ("trl_scale_none", { $0.scaleRewards = .none }),
            ("verl_grpo_loop (eps 1e-6)", { $0.stdEpsilon = 1e-6 }),
            ("verl_norm_adv_by_std_in_grpo=False", { $0.scaleRewards = .none }),
            ("openrlhf_group_norm (eps 1e-9)", { $0.stdEpsilon = 1e-9 }),
            ("population_std_(n)_for_comparison", { $0.stdEstimator = .population }),
        ]
        for (name, configure) in cases {
            var config = GRPOConfig()
            configure(&config)
            let expected = golden.advantages(name)
            expectClose(try Naive.breakdown(batch, config: config).advantages, expected, relative: 0, absolute: 1e-8, "naive \(name)")
            expectClose(try Vectorized.breakdown(batch, config: config).advantages, expected, relative: 0, absolute: 1e-8, "vectorized \(name)")
        }
        // verl's vectorized advantage works in float32: the same formula, agreeing to float32 precision.
        var verl = GRPOConfig()
        verl.stdEpsilon = 1e-6
        expectClose(try Naive.breakdown(batch, config: verl).advantages, golden.advantages("verl_grpo_vectorized"),
                    relative: 1e-7, absolute: 0, "verl_grpo_vectorized")
    }

    /// verl's vanilla policy loss for the aggregation modes that are TRL loss types, with and
    /// without dual-clip (clip_ratio_c = 3 is TRL's delta = 3).
    @Test("verl compute_policy_loss_vanilla", arguments: [
        ("token-mean", GRPOConfig.LossType.dapo), ("seq-mean-token-mean", .grpo), ("seq-mean-token-sum-norm", .drGRPO),
    ])
    func verlVanilla(mode: String, lossType: GRPOConfig.LossType) throws {
        for (c, delta) in [("3", 3.0 as Double?), ("1e+09", nil)] {
            var config = trlGoldenConfig()
            config.lossType = lossType
            config.delta = delta
            // verl's policy loss takes the advantages as given; the golden run gave it TRL's.
            let expected = golden.verl("vanilla/\(mode)/clip_ratio_c=\(c)")
            let batch = golden.batch()
            for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
                expectClose(b.loss, expected["loss"] as! Double, relative: 0, absolute: 2e-9, "verl \(mode) c=\(c) loss")
                let grad = golden.ragged(expected["grad_wrt_logp"]!)
                for i in grad.indices {
                    expectClose(Array(b.gradLogp[i]), grad[i], relative: 0, absolute: 2e-9, "verl \(mode) c=\(c) grad \(i)")
                }
            }
        }
    }

    @Test("verl kl_penalty: k1, k2, k3 per token, and the gradient of their token mean")
    func verlKL() throws {
        let batch = golden.batch()
        for (name, estimator) in [("k1", GRPOConfig.KLEstimator.k1), ("k2", .k2), ("k3", .k3), ("low_var_kl", .k3)] {
            let expected = golden.verl("kl_penalty/\(name)")
            // Only the KL term: bnpo is a token mean, beta = 1, and no policy gradient (A = 0).
            var config = GRPOConfig()
            config.lossType = .bnpo
            config.beta = 1
            config.klEstimator = estimator
            var flatRewards = batch
            for g in flatRewards.groups.indices {
                for c in flatRewards.groups[g].completions.indices { flatRewards.groups[g].completions[c].reward = 0 }
            }
            for b in [try Naive.breakdown(flatRewards, config: config), try Vectorized.breakdown(flatRewards, config: config)] {
                let perToken = golden.ragged(expected["per_token"]!)
                for i in perToken.indices { expectClose(Array(b.kl![i]), perToken[i], relative: 0, absolute: 1e-9, "\(name) row \(i)") }
                expectClose(b.metrics.kl!, expected["token_mean"] as! Double, relative: 0, absolute: 1e-9, "\(name) mean")
                expectClose(b.loss, expected["token_mean"] as! Double, relative: 0, absolute: 1e-9, "\(name) loss")
                let grad = golden.ragged(expected["grad_of_token_mean_wrt_logp"]!)
                for i in grad.indices { expectClose(Array(b.gradLogp[i]), grad[i], relative: 0, absolute: 1e-9, "\(name) grad \(i)") }
            }
        }
    }

    @Test("verl GSPO equals TRL's sequence-level loss")
    func verlGSPO() throws {
        var config = trlGoldenConfig()
        config.lossType = .grpo
        config.importanceSamplingLevel = .sequence
        config.epsilon = 3e-4
        config.epsilonHigh = 4e-4
        let expected = golden.verl("gspo/seq-mean-token-mean")
        let b = try Vectorized.breakdown(golden.batch(), config: config)
        expectClose(b.loss, expected["loss"] as! Double, relative: 0, absolute: 2e-9, "gspo loss")
    }
}
