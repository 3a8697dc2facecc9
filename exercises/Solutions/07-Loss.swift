import GRPO

extension Reference {
    public static func grpoLoss(logp: [[Scalar]], batch: Batch, epsilon: Double, beta: Double) throws -> Scalar {
        var perTokenLoss: [[Scalar]] = []
        var i = 0
        for group in batch.groups {
            let advantages = try groupAdvantages(rewards: group.completions.map(\.reward), estimator: .sample, epsilon: 1e-4)
            for (completion, a) in zip(group.completions, advantages) {
                var row: [Scalar] = []
                for t in completion.logp.indices {
                    let r = try importanceRatio(logp: logp[i][t], oldLogp: completion.oldLogp[t])
                    let kl = try klEstimate(logp: logp[i][t], refLogp: completion.refLogp![t], estimator: .k3)
                    row.append(-(try clippedObjective(ratio: r, advantage: a, epsilonLow: epsilon, epsilonHigh: epsilon)) + kl * beta)
                }
                perTokenLoss.append(row)
                i += 1
            }
        }
        return try aggregate(perTokenLoss, aggregation: .sequenceMeanTokenMean, maxCompletionLength: 1)
    }
}
