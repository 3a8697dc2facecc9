/// Which branch `min(ratio * A, clip(ratio) * A)` took at a token. Lesson 04.
public enum ClipBranch: String, Sendable, Equatable {
    /// ratio * A is the smaller (or equal) term: the gradient flows through the ratio.
    case unclipped
    /// clip(ratio) * A is strictly smaller: the ratio left the clip range on the side the
    /// advantage pushes towards, so this token passes no policy gradient.
    case clipped
    /// ratio * A was picked but the ratio was capped at `delta` (two-sided clipping): no gradient.
    case capped
}

/// The entropy bonus of a batch: loss = policy loss - coefficient * entropy. Lesson 05.
public struct EntropyBonus: Sendable, Equatable {
    /// `entropy_coef` as applied.
    public var coefficient: Double
    /// The entropy the coefficient multiplies, as `entropy_aggregation` says: the mean over the
    /// tokens the policy term acts on (TRL), or the entropies aggregated as the loss aggregates
    /// its tokens (verl's `entropy_loss`).
    public var entropy: Double
    /// How many tokens it is taken over.
    public var tokens: Int

    public init(coefficient: Double, entropy: Double, tokens: Int) {
        self.coefficient = coefficient
        self.entropy = entropy
        self.tokens = tokens
    }

    /// What the bonus subtracts from the loss.
    public var value: Double { coefficient * entropy }
}

/// Every intermediate quantity of the loss for one batch. Both paths produce one; the tests
/// check that the two agree. Rows of the ragged quantities are completions, group after group.
public struct Breakdown: Sendable {
    public var config: GRPOConfig
    /// G, the completions per group (group 0's when they differ: verl's groups by uid).
    public var groupSize: Int
    /// Each group's number of completions, in order (`groupAndIndex`).
    public var groupSizes: [Int] = []
    /// mean of each group's rewards (empty when the batch gives its advantages).
    public var groupMean: [Double]
    /// The std of each group's rewards (the batch std for `scale_rewards=batch` and
    /// `normalize_then_sum`), before `std_epsilon` is added; NaN when a group has too few
    /// rewards. With `scale_rewards=none` it is reported but divides nothing. Empty when the
    /// batch gives its advantages.
    public var groupStd: [Double]
    /// A_i, one per completion (broadcast to its tokens): from the rewards, or as given.
    public var advantages: [Double]
    /// r_t = pi_theta / pi_old (for `sequence` level, the completion's ratio at every token).
    public var ratio: Ragged<Double>
    /// Per-token KL to the reference (times the ratio with bias correction); `nil` without ref_logp.
    public var kl: Ragged<Double>?
    /// Which tokens the loss counts (`Naive.lossMask`); `nil` when it counts every token.
    public var lossMask: Ragged<Bool>?
    /// The off-policy sequence mask, one per completion (`Naive.offPolicyKeep`); `nil` when off.
    public var offPolicyMask: [Bool]?
    /// Which tokens keep the policy term under `top_entropy_quantile`; `nil` when it is 1.
    public var entropyMask: Ragged<Bool>?
    /// The sampler/trainer correction weight of each token; `nil` when not used.
    public var samplerWeight: Ragged<Double>?
    /// VESPO's phi, one per completion; `nil` for the other objectives.
    public var vespoWeight: [Double]?
    /// L_t = -objective_t * keep_t * w_t + beta * KL_t at the tokens the loss counts, 0 at the
    /// others (loss = -objective).
    public var perTokenLoss: Ragged<Double>
    /// w_i, the weight of each of completion i's tokens in the aggregate:
    /// policyLoss = sum_i w_i sum_t L_{i,t} (`weightedLoss`). Set by the aggregation, the same at
    /// every token of a row.
    public var weight: [Double]
    /// The KL's and the entropy term's weight of each of completion i's tokens, when they are
    /// aggregated differently from the policy term (`policy_agg_mode`); nil: `weight`.
    public var regularizerWeight: [Double]? = nil
    /// d loss / d logp_t.
    public var gradLogp: Ragged<Double>
    /// The aggregate of the per-token losses, before the entropy bonus.
    public var policyLoss: Double
    /// The entropy bonus; `nil` when `entropy_coef` is 0.
    public var entropyBonus: EntropyBonus?
    /// policyLoss - entropy bonus: what the optimizer minimizes.
    public var loss: Double
    public var metrics: Metrics

    /// clip(r_t, 1 - epsilon, 1 + epsilon_high): a function of `ratio`, so computed when read
    /// rather than stored (the naive path builds it as `Naive.clippedRatio` inside the surrogate).
    public var clippedRatio: Ragged<Double> { ratio.map(config.clip) }

    /// Which term the min took at each token (`Naive.clipBranch`): like the clipped ratio, a
    /// function of the ratio and the advantage, computed when read. `branch(row:token:)` reads one.
    /// Meaningful for the clip-and-min objective.
    public var branch: Ragged<ClipBranch> {
        var values: [ClipBranch] = []
        values.reserveCapacity(ratio.values.count)
        for row in 0..<ratio.rowCount {
            for r in ratio[row] { values.append(Naive.clipBranch(ratio: r, advantage: advantages[row], config: config)) }
        }
        return Ragged(values: values, offsets: ratio.offsets)
    }

    public func branch(row: Int, token: Int) -> ClipBranch {
        Naive.clipBranch(ratio: ratio[row, token], advantage: advantages[row], config: config)
    }

    /// True when the loss counts token t of row i.
    public func counts(row: Int, token: Int) -> Bool { lossMask?[row, token] ?? true }

    /// True when the policy term acts on token t of row i: the loss counts it and the entropy mask
    /// keeps it (the tokens the entropy bonus averages over).
    public func acts(row: Int, token: Int) -> Bool {
        counts(row: row, token: token) && (entropyMask?[row, token] ?? true)
    }

    /// Row `row` as (group, completion within the group), whatever the groups' sizes.
    public func groupAndIndex(_ row: Int) -> (group: Int, index: Int) {
        var start = 0
        for (g, size) in groupSizes.enumerated() {
            if row < start + size { return (g, row - start) }
            start += size
        }
        return (row / max(groupSize, 1), row % max(groupSize, 1))
    }

    /// w_i L_it, token t's share of `policyLoss`; with `regularizerWeight` the KL part takes its
    /// own weight: w_i (L_it - beta KL_it) + w_reg_i beta KL_it.
    public func weightedLoss(row: Int, token t: Int) -> Double {
        guard counts(row: row, token: t) else { return 0 }
        guard let regularizer = regularizerWeight, let kl else { return weight[row] * perTokenLoss[row, t] }
        let klTerm = config.beta * kl[row, t]
        return weight[row] * (perTokenLoss[row, t] - klTerm) + regularizer[row] * klTerm
    }

    /// d loss / d H_t, the entropy bonus's gradient with respect to each token's entropy:
    /// -entropy_coef / (tokens acted on) where the policy term acts, 0 elsewhere (or, under verl's
    /// `entropy_aggregation`, -entropy_coef times the token's weight w_i where the loss counts it);
    /// `nil` without a bonus. The tiny policy sends it back through its logits. Lesson 05.
    public var entropyGradient: Ragged<Double>? {
        guard let bonus = entropyBonus else { return nil }
        let share = -bonus.coefficient / Double(max(bonus.tokens, 1))
        var values: [Double] = []
        values.reserveCapacity(ratio.values.count)
        for row in 0..<ratio.rowCount {
            for t in 0..<(ratio.offsets[row + 1] - ratio.offsets[row]) {
                switch config.entropyAggregation {
                case .actingTokenMean: values.append(acts(row: row, token: t) ? share : 0)
                case .lossAggregation: values.append(counts(row: row, token: t) ? -bonus.coefficient * (regularizerWeight ?? weight)[row] : 0)
                }
            }
        }
        return Ragged(values: values, offsets: ratio.offsets)
    }
}
