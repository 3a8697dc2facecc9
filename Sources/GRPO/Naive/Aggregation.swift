extension Naive {
    /// w_i, the weight of each token of completion i in the loss (loss = sum_it w_i L_it), for B
    /// completions, m_i the tokens completion i counts and N = sum_i m_i:
    ///
    ///     seq-mean-token-mean     1 / (B m_i)    each completion weighs the same (grpo, sapo)
    ///     token-mean              1 / N          each token weighs the same (bnpo, dapo, cispo, vespo)
    ///     seq-mean-token-sum-norm 1 / (B L)      a constant, L = loss_scale_factor or max_completion_length (dr_grpo)
    ///     seq-mean-token-sum      1 / B          a completion weighs by its length (luspo)
    ///     token-sum               1              no normalizer (verl)
    ///
    /// Under seq-mean-token-mean a token of a short completion weighs more than one of a long
    /// completion: the length bias of lesson 07. N is taken as at least 1; m_i is guarded as
    /// `count_divisor` says (`sequenceCountDivisor`). `aggregation` is the policy term's or the
    /// regularizers' (`GRPOConfig.policyAggregation`, `GRPOConfig.aggregation`).
    public static func tokenWeight(countedTokens m: Int, completionCount: Int, totalCounted n: Int,
                                   aggregation: GRPOConfig.Aggregation, config: GRPOConfig) -> Double {
        let b = Double(completionCount)
        switch aggregation {
        case .sequenceMeanTokenMean: return 1 / (b * sequenceCountDivisor(m, config))
        case .tokenMean: return 1 / Double(max(n, 1))
        case .constantNormalizer: return 1 / (b * constantNormalizerLength(config))
        case .sequenceMeanTokenSum: return 1 / b
        case .tokenSum: return 1
        case .sequenceMean: return 1 / (b * Double(max(m, 1)))
        }
    }

    /// The aggregate of the per-token losses (one row per completion, the tokens the loss counts),
    /// written as each formula. Lesson 07.
    static func aggregate(_ perTokenLoss: [[Scalar]], aggregation: GRPOConfig.Aggregation, config: GRPOConfig) -> Scalar {
        let b = Double(perTokenLoss.count)
        let rowSums = perTokenLoss.map { Scalar.sum($0) }
        switch aggregation {
        case .sequenceMeanTokenMean:
            var rowMeans: [Scalar] = []
            for (i, sum) in rowSums.enumerated() { rowMeans.append(sum / sequenceCountDivisor(perTokenLoss[i].count, config)) }
            return Scalar.sum(rowMeans) / b
        case .tokenMean:
            return Scalar.sum(rowSums) / Double(max(perTokenLoss.reduce(0) { $0 + $1.count }, 1))
        case .constantNormalizer:
            return Scalar.sum(rowSums) / (b * constantNormalizerLength(config))
        case .sequenceMeanTokenSum:
            return Scalar.sum(rowSums) / b
        case .tokenSum:
            return Scalar.sum(rowSums)
        case .sequenceMean:
            var rowMeans: [Scalar] = []
            for (i, sum) in rowSums.enumerated() { rowMeans.append(sum / Double(max(perTokenLoss[i].count, 1))) }
            return Scalar.sum(rowMeans) / b
        }
    }

    /// What divides a completion's token sum under seq-mean-token-mean: max(m, 1) (TRL) or
    /// m + 1e-8 (verl). `GRPOConfig.CountDivisor`.
    public static func sequenceCountDivisor(_ m: Int, _ config: GRPOConfig) -> Double {
        switch config.countDivisor {
        case .atLeastOne: Double(max(m, 1))
        case .plusEpsilon: Double(m) + 1e-8
        }
    }

    /// L of seq-mean-token-sum-norm: `loss_scale_factor`, or `max_completion_length` (dr_grpo).
    public static func constantNormalizerLength(_ config: GRPOConfig) -> Double {
        config.lossScaleFactor ?? Double(config.maxCompletionLength)
    }
}
