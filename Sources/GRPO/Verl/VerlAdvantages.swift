/// verl 0.9.1's advantage estimators from outcome rewards (`core_algos.py`,
/// `compute_*_outcome_advantage`), grouped as verl groups: by the prompt's uid, so groups may
/// differ in size. Each completion's reward is its score (verl sums the token-level rewards,
/// which hold the reward at the last token). One advantage per completion, broadcast to its
/// tokens. Lesson 11.
public enum VerlAdvantages {
    /// The estimators computed here (verl's `AdvantageEstimator` names).
    public enum Estimator: String, Sendable, CaseIterable {
        /// A_i = (r_i - mean) / (std + 1e-6), std unbiased (torch.std); with
        /// `norm_adv_by_std_in_grpo` false, A_i = r_i - mean (Dr. GRPO). `groupOfOneStatistics`.
        case grpo
    }

    /// The names verl 0.9.1 registers, computed here or not.
    public static let verlNames = [
        "gae", "grpo", "reinforce_plus_plus", "reinforce_plus_plus_baseline", "remax", "rloo", "opo", "grpo_passk",
        "gpg", "rloo_vectorized", "grpo_vectorized", "optimal_token_baseline", "tir_optimal_token_baseline", "gdpo",
    ]

    /// The advantages of `rewards` (one list per group) under `options`.
    public static func advantages(rewards: [[Double]], options: VerlOptions) throws(ConfigError) -> [[Double]] {
        guard let estimator = Estimator(rawValue: options.advEstimator) else {
            guard verlNames.contains(options.advEstimator) else {
                throw ConfigError("adv_estimator must be one of verl's \(verlNames.joined(separator: ", ")), not '\(options.advEstimator)'")
            }
            throw ConfigError(options.notYet("adv_estimator \(options.advEstimator)"))
        }
        switch estimator {
        case .grpo:
            return rewards.map { group in
                let (m, s) = groupOfOneStatistics(group)
                return group.map { r in options.normAdvByStdInGRPO ? (r - m) / (s + 1e-6) : r - m }
            }
        }
    }

    /// A group's mean and unbiased std, except that a group of one gets mean 0 and std 1 (verl's
    /// rule, where TRL's sample std would be NaN): its advantage is then its reward itself.
    static func groupOfOneStatistics(_ group: [Double]) -> (mean: Double, std: Double) {
        guard group.count > 1 else { return (0, 1) }
        return (Naive.mean(group), Naive.std(group, estimator: .sample))
    }
}
