import Foundation
import Testing
@testable import GRPO

/// `TorchRules`, the numerics both loss paths share, against the numbers torch itself gives
/// (`Fixtures/torch_quantile.json`, from `tools/torch_quantile_golden.py`): these rest on golden
/// values, not on the two paths agreeing.
@Suite("Torch's float32 rules, bit for bit")
struct TorchRulesTests {
    @Test("torch.quantile of float32 values: the float32 rank is torch 2.13's, the float64 rank torch 2.15's")
    func quantileMatchesTorch() throws {
        let url = Bundle.module.url(forResource: "torch_quantile", withExtension: "json", subdirectory: "Fixtures")!
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let cases = json["cases"] as! [[String: Any]]
        var differ = 0
        for (k, c) in cases.enumerated() {
            let values = (c["values"] as! [Double]).map(Float.init)
            let q = Float(c["q"] as! Double)
            let old = Float(c["torch 2.13.0"] as! Double), new = Float(c["torch 2.15.0"] as! Double)
            #expect(TorchRules.quantile(sorted: values, q, rank: .float32) == old, "case \(k): torch 2.13.0 gives \(old)")
            #expect(TorchRules.quantile(sorted: values, q, rank: .float64) == new, "case \(k): torch 2.15.0 gives \(new)")
            if old != new { differ += 1 }
        }
        #expect(cases.count > 200 && differ > 20, "the file holds cases where the two versions part (\(differ))")
    }

    @Test("the entropy mask follows the chosen rule on both paths: rho 0.7 over eleven entropies, four of them 0")
    func tiesAtTheThreshold() throws {
        // float32 rank: (1 - 0.7) * 10 = 3 exactly, threshold v[3] = 0, the zeros kept (torch 2.13).
        // float64 rank: 3.0000001192, threshold 5.96e-8, the zeros dropped (torch 2.15).
        let entropies: [[Double]] = [[0, 0, 0, 0, 0.5], [1, 1.5, 2, 2.5, 3, 3.5]]
        var config = GRPOConfig()
        config.beta = 0
        config.topEntropyQuantile = 0.7
        let batch = Batch(groups: [Group(completions: entropies.enumerated().map { i, e in
            Completion(reward: Double(i), logp: e.map { _ in -1 }, entropy: e)
        })])
        for (rank, zerosKept) in [(GRPOConfig.QuantileRank.float32, true), (.float64, false)] {
            config.entropyQuantileRank = rank
            for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
                #expect(Array(b.entropyMask![0].prefix(4)) == Array(repeating: zerosKept, count: 4), "\(rank)")
                #expect(b.entropyMask![0, 4] && b.entropyMask![1].allSatisfy { $0 }, "\(rank): the rest keep their term")
            }
        }
    }
}
