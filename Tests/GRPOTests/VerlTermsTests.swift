import Foundation
import Testing
@testable import GRPO

/// `Fixtures/verl_terms.json`: what verl 0.9.1's own code (`ppo_loss`, `compute_advantage`, the
/// rollout-correction helper) computes for batches that exercise every loss mode, aggregation,
/// KL type, advantage estimator and rollout correction, written by `tools/verl_terms_golden.py`
/// (Fixtures/README.md). Each batch carries verl's options under "verl".
struct VerlTerms: @unchecked Sendable {  // read-only after loading
    let cases: [[String: Any]]

    static let shared: VerlTerms = {
        let url = Bundle.module.url(forResource: "verl_terms", withExtension: "json", subdirectory: "Fixtures")!
        let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return VerlTerms(cases: json["cases"] as! [[String: Any]])
    }()

    var names: [String] { cases.map { $0["name"] as! String } }
    func entry(_ name: String) -> [String: Any] { cases.first { $0["name"] as! String == name }! }
    func expected(_ name: String) -> [String: Any] { entry(name)["verl"] as! [String: Any] }

    /// An option value as `VerlOptions.set` reads it (JSON booleans arrive as NSNumbers).
    static func text(_ key: String, _ value: Any) -> String {
        if value is NSNull { return "none" }
        let flags = ["use_kl_loss", "calculate_entropy", "norm_adv_by_std_in_grpo", "rollout_is_batch_normalize"]
        if flags.contains(key) { return (value as! NSNumber).boolValue ? "true" : "false" }
        if let x = value as? NSNumber { return x.doubleValue.optionText }
        if let list = value as? [NSNumber] { return list.map(\.doubleValue.optionText).joined(separator: ",") }
        return "\(value)"
    }

    /// The case's verl options and batch, as `explain` reads a file with a "verl" object.
    func input(_ name: String) throws -> (VerlOptions, Batch) {
        let batch = entry(name)["batch"] as! [String: Any]
        var options = VerlOptions()
        for (key, value) in batch["verl"] as! [String: Any] { try options.set(key, to: Self.text(key, value)) }
        return (options, Batch(groups: fixtureGroups(batch)))
    }

    /// What we compute for the case: the breakdowns of both paths, or the error that refused it.
    enum Outcome {
        case computed(VerlOptions, Batch, naive: Breakdown, vectorized: Breakdown)
        case refused(String)
    }

    func outcome(_ name: String) -> Outcome {
        do {
            let (options, given) = try input(name)
            // Each path with its own advantage estimator.
            let (batch, config) = try options.lossInputs(given, path: .naive)
            let vectorizedBatch = try options.lossInputs(given, path: .vectorized).batch
            try batch.validate(for: config)
            // The metrics read the batch as given (its response masks before any rejection).
            return .computed(options, given, naive: try Naive.breakdown(batch, config: config),
                             vectorized: try Vectorized.breakdown(vectorizedBatch, config: config))
        } catch let error as ConfigError { return .refused(error.message) } catch let error as BatchError {
            return .refused(error.message)
        } catch { return .refused("\(error)") }
    }
}

@Suite("Golden values from verl 0.9.1")
struct VerlTermsTests {
    let golden = VerlTerms.shared

    /// The cases whose terms are not computed here yet (issue 12's later steps): each is refused
    /// with a message that says so, never answered with a number.
    static let computedCount = 150

    @Test("loss, advantages, d loss / d logp and verl's metrics on both paths; what verl refuses is refused",
          arguments: VerlTerms.shared.names)
    func verlCase(name: String) throws {
        let expected = golden.expected(name)
        switch golden.outcome(name) {
        case .refused(let message):
            if let error = expected["error"] as? String {
                // verl refuses it too; ours says why in its own words (or verl's, for loss_agg_mode).
                #expect(!message.isEmpty, "\(name): verl refuses with '\(error)'")
            } else {
                #expect(message.contains("grpo-swift does not compute it"), "\(name): refused with '\(message)'")
            }
        case .computed(let options, let batch, let naive, let vectorized):
            #expect(expected["error"] == nil, "\(name): verl refuses it ('\(expected["error"] ?? "")'), we computed it")
            guard expected["error"] == nil else { return }
            for (path, b) in [("naive", naive), ("vectorized", vectorized)] {
                let what = "\(name) \(path)"
                // gdpo: verl's statistics are float32 end to end, ours float64: held to float32's
                // rounding of terms of size 1 (1e-6), not to 1e-10.
                let float32 = expected["float32_advantages"] != nil
                let tolerance = float32 ? 1e-6 : 1e-10, floor = float32 ? 1e-6 : 1e-13
                expectClose(b.loss, expected["loss"] as! Double, relative: tolerance, absolute: floor, "\(what) loss")
                let grad = expected["grad_logp"] as! [[Double]]
                for (row, tokens) in grad.enumerated() {
                    expectClose(Array(b.gradLogp[row]), tokens, relative: tolerance, absolute: floor, "\(what) grad_logp[\(row)]")
                }
                for (row, a) in (expected["advantages"] as! [Any]).enumerated() {
                    guard let a = a as? Double else { continue }  // a completion without loss tokens: verl's row is 0
                    expectClose(b.advantages[row], a, relative: tolerance, absolute: floor, "\(what) advantage \(row)")
                }
                let ours = Dictionary(uniqueKeysWithValues: VerlMetrics.metrics(b, batch: batch, options: options).map { ($0.name, $0.value) })
                // The trainer prefixes actor/ to what the actor's loss returns without it (kl_loss,
                // and bypass_mode's rollout_corr/*).
                let actorPrefixed = { (key: String) in
                    !key.contains("/") || (options.lossMode == .bypassMode && key.hasPrefix("rollout_corr/")) ? "actor/" + key : key
                }
                let theirs = expected["metrics"] as! [String: Double]
                for (key, value) in theirs {
                    let name = actorPrefixed(key)
                    guard let mine = ours[name] else { Issue.record("\(what): no metric \(name)"); continue }
                    expectClose(mine, value, relative: tolerance, absolute: floor, "\(what) \(name)")
                }
                #expect(Set(ours.keys) == Set(theirs.keys.map(actorPrefixed)), "\(what): metric names")
            }
        }
    }

    @Test("kl_cov penalizes the tokens verl's torch.topk chose", arguments: VerlTerms.shared.names.filter { $0.hasPrefix("kl_cov") })
    func klCovChoice(name: String) throws {
        guard case .computed(let options, let batch, _, _) = golden.outcome(name) else {
            Issue.record("\(name) is not computed")
            return
        }
        let chosen = golden.expected(name)["kl_cov_chosen"] as! [[Int]]
        let penalized = try options.lossInputs(batch).batch.completions.enumerated().flatMap { row, c in
            c.logRatioPenalty!.indices.filter { c.logRatioPenalty![$0] != 0 }.map { [row, $0] }
        }
        #expect(penalized == chosen)
        #expect(!chosen.isEmpty)
    }

    @Test("how many of verl's cases are computed here (the rest are refused as not yet computed)")
    func coverage() {
        let computed = golden.names.filter { if case .computed = golden.outcome($0) { true } else { false } }
        #expect(computed.count == Self.computedCount, "computed: \(computed.joined(separator: ", "))")
    }
}
