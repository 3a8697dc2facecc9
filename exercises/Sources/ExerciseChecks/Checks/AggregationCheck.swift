import Foundation
import GRPO

extension Checks {
    /// Exercise Aggregation (lesson 07): the loss from the per-token losses L_it of B completions
    /// (row i has m_i tokens, N = sum_i m_i, L = max_completion_length):
    ///
    ///     seq-mean-token-mean      1/B sum_i 1/m_i sum_t L_it     (grpo)
    ///     token-mean               1/N sum_i sum_t L_it           (bnpo, dapo)
    ///     seq-mean-token-sum-norm  1/(B L) sum_i sum_t L_it       (dr_grpo)
    ///     seq-mean-token-sum       1/B sum_i sum_t L_it           (luspo)
    ///
    /// and its derivative in each L_it. Against `Naive.tokenWeight`.
    public static func aggregation(_ answer: ([[Scalar]], GRPOConfig.Aggregation, Int) throws -> Scalar) -> Report {
        var report = Report(.aggregation)
        let kinds: [GRPOConfig.Aggregation] = [.sequenceMeanTokenMean, .tokenMean, .constantNormalizer, .sequenceMeanTokenSum]
        // By hand: rows (1, 2) and (3), L = 4: ((1+2)/2 + 3/1) / 2 = 2.25; 6 / 3 = 2; 6 / (2 x 4) = 0.75; 6 / 2 = 3.
        var cases: [(rows: [[Double]], kind: GRPOConfig.Aggregation, l: Int)] = kinds.map { ([[1, 2], [3]], $0, 4) }
        var rng = SeededGenerator(seed: 6)
        for k in 0..<60 {
            let rows = (0..<rng.integer(1, 5)).map { _ in (0..<rng.integer(1, 7)).map { _ in rng.uniform(-2, 2) } }
            cases.append((rows, kinds[k % kinds.count], 8))
        }
        for (rows, kind, l) in cases {
            let going = report.attempt { report in
                let leaves = rows.map { $0.map(Scalar.init) }
                let got = try answer(leaves, kind, l)
                got.backward()
                var config = GRPOConfig()
                config.maxCompletionLength = l
                let n = rows.reduce(0) { $0 + $1.count }
                let weights = rows.map { Naive.tokenWeight(countedTokens: $0.count, completionCount: rows.count, totalCounted: n,
                                                           aggregation: kind, config: config) }
                let want = zip(rows, weights).reduce(0.0) { $0 + $1.0.reduce(0, +) * $1.1 }
                let input = "rows \(rows.map { "(" + $0.map(Report.format).joined(separator: ", ") + ")" }.joined(separator: " ")), "
                    + ".\(caseName(kind)), maxCompletionLength \(l)"
                let others = kinds.filter { $0 != kind }.map { ("this is .\(caseName($0))'s normalizer", aggregate(rows, $0, config)) }
                report.compare("the loss", at: input, expected: want, got: got.value, mistakes: others)
                for (i, row) in leaves.enumerated() {
                    for (t, leaf) in row.enumerated() where !Report.close(leaf.grad, weights[i]) {
                        report.compareGradient("d loss / d L_\(i)\(t)", at: input, expected: weights[i], got: leaf.grad)
                        return
                    }
                }
            }
            if !going { break }
        }
        return report
    }

    /// The Swift case the learner switches on (`.constantNormalizer`), not TRL's text form.
    static func caseName(_ kind: GRPOConfig.Aggregation) -> String {
        switch kind {
        case .sequenceMeanTokenMean: "sequenceMeanTokenMean"
        case .tokenMean: "tokenMean"
        case .constantNormalizer: "constantNormalizer"
        case .sequenceMeanTokenSum: "sequenceMeanTokenSum"
        default: kind.rawValue
        }
    }

    /// The aggregate under another normalizer, to name the one an answer took by mistake.
    static func aggregate(_ rows: [[Double]], _ kind: GRPOConfig.Aggregation, _ config: GRPOConfig) -> Double {
        let n = rows.reduce(0) { $0 + $1.count }
        return rows.reduce(0.0) {
            $0 + $1.reduce(0, +) * Naive.tokenWeight(countedTokens: $1.count, completionCount: rows.count, totalCounted: n,
                                                    aggregation: kind, config: config)
        }
    }
}
