extension Naive {
    /// What every token of a completion shares: its advantage, GSPO's sequence ratio (at
    /// `sequence` level) and VESPO's weight phi (for vespo).
    struct RowTerms {
        var advantage: Double
        /// m_i, the tokens the loss counts (GMPO's mean advantage).
        var counted = 0
        var sequenceRatio: Scalar?
        var vespoWeight: Scalar?
    }

    /// One token's policy objective (objective sign) under `config.objective`; each case is one
    /// function in its own file. `ratio` is the token's (or the completion's) importance ratio.
    static func policyObjective(ratio: Scalar, logp: Scalar, oldLogp: Double, row: RowTerms, config: GRPOConfig) -> Scalar {
        switch config.objective {
        case .clipMin: clippedSurrogate(ratio: ratio, advantage: row.advantage, config: config)
        case .cispo: cispoObjective(ratio: ratio, logp: logp, advantage: row.advantage, config: config)
        case .sapo: sapoObjective(ratio: ratio, advantage: row.advantage, config: config)
        case .vespo: vespoObjective(logp: logp, advantage: row.advantage, weight: row.vespoWeight ?? Scalar(0))
        case .reinforce: reinforceObjective(logp: logp, advantage: row.advantage)
        case .dro: droObjective(logp: logp, oldLogp: oldLogp, advantage: row.advantage, config: config)
        case .dppoTV, .dppoKL: dppoObjective(ratio: ratio, logp: logp, oldLogp: oldLogp, advantage: row.advantage, config: config)
        case .geoMean: geoMeanObjective(ratio: ratio, advantage: row.advantage, counted: row.counted)
        case .unclipped: unclippedObjective(ratio: ratio, advantage: row.advantage)
        }
    }
}
