extension Naive {
    /// w_i, the weight of each token of completion i in the loss (loss = sum_it w_i L_it), for B
    /// completions, m_i the tokens completion i counts and N = sum_i m_i:
    ///
    ///     seq-mean-token-mean     1 / (B m_i)    each completion weighs the same (grpo, sapo)
    ///     token-mean              1 / N          each token weighs the same (bnpo, dapo, cispo, vespo)
    ///     seq-mean-token-sum-norm 1 / (B L)      a constant, L = max_completion_length (dr_grpo)
    ///     seq-mean-token-sum      1 / B          a completion weighs by its length (luspo)
    ///
    /// Under seq-mean-token-mean a token of a short completion weighs more than one of a long
    /// completion: the length bias of lesson 07. (m_i and N are taken as at least 1, as TRL does.)
    public static func tokenWeight(countedTokens m: Int, completionCount: Int, totalCounted n: Int,
                                   config: GRPOConfig) -> Double {
        let b = Double(completionCount)
        switch config.aggregation {
        case .sequenceMeanTokenMean: return 1 / (b * Double(max(m, 1)))
        case .tokenMean: return 1 / Double(max(n, 1))
        case .constantNormalizer: return 1 / (b * Double(config.maxCompletionLength))
        case .sequenceMeanTokenSum: return 1 / b
        }
    }

    /// The aggregate of the per-token losses (one row per completion, the tokens the loss counts),
    /// written as each formula. Lesson 07.
    static func aggregate(_ perTokenLoss: [[Scalar]], config: GRPOConfig) -> Scalar {
        let b = Double(perTokenLoss.count)
        let rowSums = perTokenLoss.map { Scalar.sum($0) }
        switch config.aggregation {
        case .sequenceMeanTokenMean:
            var rowMeans: [Scalar] = []
            for (i, sum) in rowSums.enumerated() { rowMeans.append(sum / Double(max(perTokenLoss[i].count, 1))) }
            return Scalar.sum(rowMeans) / b
        case .tokenMean:
            return Scalar.sum(rowSums) / Double(max(perTokenLoss.reduce(0) { $0 + $1.count }, 1))
        case .constantNormalizer:
            return Scalar.sum(rowSums) / (b * Double(config.maxCompletionLength))
        case .sequenceMeanTokenSum:
            return Scalar.sum(rowSums) / b
        }
    }
}
