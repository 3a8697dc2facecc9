/// Rows of different lengths stored back to back: row i is `values[offsets[i] ..< offsets[i+1]]`.
/// Both loss paths store per-token quantities this way, one row per completion.
public struct Ragged<Element: Sendable>: Sendable {
    public var values: [Element]
    /// `rowCount + 1` offsets, starting at 0.
    public var offsets: [Int]

    public init(values: [Element], offsets: [Int]) {
        precondition(offsets.first == 0 && offsets.last == values.count, "offsets must span values")
        self.values = values
        self.offsets = offsets
    }

    /// Rows of `repeating` with the lengths of `lengths`.
    public init(repeating value: Element, lengths: [Int]) {
        var offsets = [0]
        offsets.reserveCapacity(lengths.count + 1)
        for n in lengths { offsets.append(offsets.last! + n) }
        self.init(values: Array(repeating: value, count: offsets.last!), offsets: offsets)
    }

    public var rowCount: Int { offsets.count - 1 }
    public subscript(row: Int) -> ArraySlice<Element> { values[offsets[row]..<offsets[row + 1]] }
    public subscript(row: Int, token: Int) -> Element {
        get { values[offsets[row] + token] }
        set { values[offsets[row] + token] = newValue }
    }
    public var rows: [[Element]] { (0..<rowCount).map { Array(self[$0]) } }
    /// The same rows with `transform` applied to every value.
    public func map<T>(_ transform: (Element) -> T) -> Ragged<T> {
        Ragged<T>(values: values.map(transform), offsets: offsets)
    }
}

extension Ragged: Equatable where Element: Equatable {}

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

/// The logged numbers, named as TRL logs them. Lesson 04 (clip fractions), 05 (kl), 02 (zero std).
public struct Metrics: Sendable, Equatable {
    /// Share of valid tokens with ratio < 1 - epsilon and A < 0 (TRL `clip_ratio/low_mean`).
    public var clipRatioLow: Double
    /// Share with ratio > 1 + epsilon_high and A > 0 (TRL `clip_ratio/high_mean`; as TRL, the
    /// ratio capped at `delta` when that is set).
    public var clipRatioHigh: Double
    /// Share with either (TRL `clip_ratio/region_mean`).
    public var clipRatioRegion: Double
    /// Token mean of the per-token KL (bias-corrected when that is on); `nil` without ref_logp.
    public var kl: Double?
    /// Share of groups whose rewards are all equal (std 0): their advantages are all 0. `nil`
    /// when the batch gives its advantages instead of rewards.
    public var fracRewardZeroStd: Double?
    /// Token mean of the entropies, when given.
    public var entropy: Double?

    public init(clipRatioLow: Double, clipRatioHigh: Double, clipRatioRegion: Double, kl: Double?,
                fracRewardZeroStd: Double?, entropy: Double?) {
        self.clipRatioLow = clipRatioLow
        self.clipRatioHigh = clipRatioHigh
        self.clipRatioRegion = clipRatioRegion
        self.kl = kl
        self.fracRewardZeroStd = fracRewardZeroStd
        self.entropy = entropy
    }
}

/// Every intermediate quantity of the GRPO loss for one batch. Both paths produce one; the tests
/// check that the two agree. Rows of the ragged quantities are completions, group after group.
public struct Breakdown: Sendable {
    public var config: GRPOConfig
    /// G, the completions per group: row i is completion i % G of group i / G.
    public var groupSize: Int
    /// mean of each group's rewards (empty when the batch gives its advantages).
    public var groupMean: [Double]
    /// The std of each group's rewards (the batch std for `scale_rewards=batch`), before
    /// `std_epsilon` is added. With `scale_rewards=none` it is reported but divides nothing.
    /// Empty when the batch gives its advantages.
    public var groupStd: [Double]
    /// A_i, one per completion (broadcast to its tokens): from the rewards, or as given.
    public var advantages: [Double]
    /// r_t = pi_theta / pi_old (for `sequence` level, the completion's ratio at every token).
    public var ratio: Ragged<Double>
    /// Per-token KL to the reference (times the ratio with bias correction); `nil` without ref_logp.
    public var kl: Ragged<Double>?
    /// Which tokens keep the policy term under `top_entropy_quantile`; `nil` when it is 1.
    public var entropyMask: Ragged<Bool>?
    /// The sampler/trainer correction weight of each token's policy term; `nil` when not used.
    public var samplerWeight: Ragged<Double>?
    /// L_t = -min(r A, clip(r) A) [* entropy mask] [* sampler weight] + beta * KL_t  (loss = -objective).
    public var perTokenLoss: Ragged<Double>
    /// w_i, the weight of each of completion i's tokens in the aggregate:
    /// loss = sum_i w_i sum_t L_{i,t}. Set by `loss_type`, the same at every token of a row.
    public var weight: [Double]
    /// d loss / d logp_t.
    public var gradLogp: Ragged<Double>
    public var loss: Double
    public var metrics: Metrics

    /// clip(r_t, 1 - epsilon, 1 + epsilon_high): a function of `ratio`, so computed when read
    /// rather than stored (the naive path builds it as `Naive.clippedRatio` inside the surrogate).
    public var clippedRatio: Ragged<Double> { ratio.map(config.clip) }

    /// Which term the min took at each token (`Naive.clipBranch`): like the clipped ratio, a
    /// function of the ratio and the advantage, computed when read. `branch(row:token:)` reads one.
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
}
