import Foundation
import Testing
@testable import GRPO

/// `Fixtures/trl_terms.json`: TRL 1.16's own `_compute_loss` (and the advantage, truncation and
/// sampler lines of `_generate_and_score_completions`) on batches that exercise every term added
/// after the first four loss types, written by `tools/trl_terms_golden.py` (Fixtures/README.md).
struct TRLTerms: @unchecked Sendable {  // read-only after loading
    let cases: [[String: Any]]
    let float32Metrics: Set<String>

    static let shared: TRLTerms = {
        let url = Bundle.module.url(forResource: "trl_terms", withExtension: "json", subdirectory: "Fixtures")!
        let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let origin = json["origin"] as! [String: Any]
        return TRLTerms(cases: json["cases"] as! [[String: Any]],
                        float32Metrics: Set(origin["float32_metrics"] as! [String]))
    }()

    var names: [String] { cases.map { $0["name"] as! String } }
    func entry(_ name: String) -> [String: Any] { cases.first { $0["name"] as! String == name }! }

    /// A config value as the option table reads it (JSON booleans arrive as numbers).
    static func text(_ key: String, _ value: Any) -> String {
        if value is NSNull { return "none" }
        if GRPOConfig.option(named: key)?.kind == .flag { return (value as! NSNumber).boolValue ? "true" : "false" }
        if let x = value as? NSNumber { return x.doubleValue.optionText }
        if let list = value as? [NSNumber] { return list.map(\.doubleValue.optionText).joined(separator: ",") }
        return "\(value)"
    }

    /// The case's batch and config, read as `explain` reads a file (with the library's types).
    func input(_ name: String) throws -> (Batch, GRPOConfig) {
        let batch = entry(name)["batch"] as! [String: Any]
        var config = GRPOConfig()
        for (key, value) in batch["config"] as! [String: Any] { try config.set(key, to: Self.text(key, value)) }
        return (Batch(groups: fixtureGroups(batch)), config)
    }
}

/// What an unpadded implementation computes differently from TRL's padded tensors, on purpose
/// (tools/README.md has each with the line of TRL's code): these artefact cases are held to
/// TRL's loss and gradient, not to the metrics (or, for the VESPO padding case, to nothing of
/// TRL's: its loss depends on how wide the batch was padded).
let trlArtefacts: [String: (loss: Bool, metrics: Bool)] = [
    // padded width 1: TRL takes every (B, 1) tensor for a per-sequence value, unmasked
    "artefact_T1_metrics_ignore_mask": (loss: true, metrics: false),
    // A = +-7e-17 from the batch mean's rounding, whose sign TRL's clip metric counts; ours is 0
    "artefact_normalize_then_sum_equal_group_tiny_advantage": (loss: true, metrics: false),
    // TRL adds log C_min (1.2) for every padded, masked or truncated position of a VESPO row
    "artefact_vespo_is_ratio_padding_clip_min_1.2": (loss: false, metrics: false),
]

@Suite("Golden values from TRL 1.16 for every newer term")
struct TRLTermsTests {
    let golden = TRLTerms.shared

    @Test("loss, advantages, d loss / d logp and every logged metric, both paths", arguments: TRLTerms.shared.names)
    func trlCase(name: String) throws {
        let (batch, config) = try golden.input(name)
        let expected = golden.entry(name)["trl"] as! [String: Any]
        let checks = trlArtefacts[name] ?? (loss: true, metrics: true)
        for (path, b) in [("naive", try Naive.breakdown(batch, config: config)),
                          ("vectorized", try Vectorized.breakdown(batch, config: config))] {
            if checks.loss {
                expectClose(b.loss, expected["loss"] as! Double, relative: 0, absolute: 1e-9, "\(name) \(path) loss")
                let grad = expected["grad_logp"] as! [[Double]]
                for i in grad.indices {
                    expectClose(Array(b.gradLogp[i]), grad[i], relative: 0, absolute: 1e-9, "\(name) \(path) grad row \(i)")
                }
                expectClose(b.advantages, expected["advantages"] as! [Double], relative: 0, absolute: 1e-9, "\(name) \(path) A")
                if let gradEntropy = expected["grad_entropy"] as? [[Double]] {
                    let ours = b.entropyGradient!
                    for i in gradEntropy.indices {
                        expectClose(Array(ours[i]), gradEntropy[i], relative: 0, absolute: 1e-12, "\(name) \(path) d loss / d H row \(i)")
                    }
                }
            }
            guard checks.metrics else { continue }
            for (key, value) in expected["metrics"] as! [String: Any] {
                let ours = b.metrics.value(named: key)
                #expect(ours != nil, "\(name) \(path): TRL logs \(key), we do not")
                guard let ours else { continue }
                guard let trl = value as? Double else {
                    #expect(ours.isNaN, "\(name) \(path) \(key): TRL logs NaN, ours \(ours)")
                    continue
                }
                // TRL takes the clip shares and frac_reward_zero_std in float32.
                let relative = golden.float32Metrics.contains(key) ? 1e-6 : 0
                expectClose(ours, trl, relative: relative, absolute: 1e-9, "\(name) \(path) \(key)")
            }
            // And nothing TRL does not log for these options.
            let logged = Set((expected["metrics"] as! [String: Any]).keys)
            for (key, _) in b.metrics.named where !logged.contains(key) && key != "kl" && key != "entropy" {
                Issue.record("\(name) \(path): we log \(key), TRL does not")
            }
        }
    }
}
