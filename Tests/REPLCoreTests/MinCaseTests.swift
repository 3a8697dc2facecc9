import GRPO
import Testing
@testable import REPLCore

/// The `min takes` column names lesson 04's cases, not only which term the min took.
@Suite("min takes: lesson 04's cases")
struct MinCaseTests {
    @Test("each case by hand, epsilon 0.2 (range [0.8, 1.2]), and delta's cap",
          arguments: [(1.35, 0.7, "clip, row 1"), (0.7408, 0.7, "r A, row 2"), (3.32, -0.7, "r A, row 3"), (0.7408, -0.7, "clip, row 4"),
                      (0.9048, -0.7, "r A, inside"), (1.2, 0.7, "r A, inside"), (0.8, -0.7, "r A, inside"), (3.32, 0, "A = 0")])
    func cases(ratio: Double, advantage: Double, expected: String) {
        let config = GRPOConfig()
        let branch = Naive.clipBranch(ratio: ratio, advantage: advantage, config: config)
        #expect(BreakdownView.minCase(ratio: ratio, advantage: advantage, branch: branch, config: config) == expected)
    }

    @Test("delta 2 caps r A at a ratio above it: capped")
    func capped() {
        var config = GRPOConfig()
        config.delta = 2
        // A < 0, r = 3.32 > delta: the first term is min(r, 2) A and passes no gradient.
        let branch = Naive.clipBranch(ratio: 3.32, advantage: -0.7, config: config)
        #expect(branch == .capped)
        #expect(BreakdownView.minCase(ratio: 3.32, advantage: -0.7, branch: branch, config: config) == "capped")
    }
}
