import GRPO

extension Reference {
    public static func groupAdvantages(rewards: [Double], estimator: GRPOConfig.StdEstimator, epsilon: Double) throws -> [Double] {
        let n = Double(rewards.count)
        let mean = rewards.reduce(0, +) / n
        let squares = rewards.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let std = (squares / (estimator == .sample ? n - 1 : n)).squareRoot()
        // All equal: no rewards differ, so no answer is better than another.
        if rewards.allSatisfy({ $0 == rewards[0] }) { return rewards.map { _ in 0 } }
        return rewards.map { ($0 - mean) / (std + epsilon) }
    }
}
