/// The numbers TRL 1.16 logs from `_compute_loss` (and `frac_reward_zero_std` from the
/// advantages), under its names (`Metrics.named`). A metric TRL does not log for these options
/// is nil; a logged one can be NaN, as TRL logs it (a min over no completions). Lessons 02, 04,
/// 05, 06.
public struct Metrics: Sendable, Equatable {
    /// `clip_ratio/low_mean`: share of the counted tokens (of completions, at sequence level) with
    /// ratio < 1 - epsilon and A < 0. Clip-and-min objectives only, as all four clip metrics.
    public var clipRatioLow: Double?
    /// `clip_ratio/low_min`: the smallest per-completion share of low-clipped tokens
    /// (completions with no counted token left out).
    public var clipRatioLowMin: Double?
    /// `clip_ratio/high_mean`: share with ratio > 1 + epsilon_high and A > 0 (as TRL, the ratio
    /// capped at `delta` when that is set).
    public var clipRatioHigh: Double?
    /// `clip_ratio/high_max`: the largest per-completion share of high-clipped tokens.
    public var clipRatioHighMax: Double?
    /// `clip_ratio/region_mean`: share with either.
    public var clipRatioRegion: Double?
    /// `cispo_clip_ratio`: share with ratio > epsilon_high and A > 0 (cispo only).
    public var cispoClipRatio: Double?
    /// `vespo/phi_seq_mean`: mean of VESPO's phi over the completions (vespo only).
    public var vespoPhiSeqMean: Double?
    /// `kl`: token mean of the per-token KL (bias-corrected when that is on); nil without ref_logp.
    public var kl: Double?
    /// `entropy`: token mean of the entropies, when given.
    public var entropy: Double?
    /// `frac_reward_zero_std`: share of groups whose rewards have std 0 (their advantages are
    /// all 0); nil when the batch gives its advantages.
    public var fracRewardZeroStd: Double?
    /// `sampling/sampling_logp_difference/mean` and `/max`: |old_logp - sampler_logp| over the
    /// counted tokens; with the sampler correction only (TRL logs them at generation).
    public var samplingLogpDifferenceMean: Double?
    public var samplingLogpDifferenceMax: Double?
    /// `sampling/importance_sampling_ratio/min`, `/mean`, `/max`: the sampler/trainer weights of
    /// the counted tokens (token modes) or of every completion (sequence modes, one each).
    public var importanceSamplingRatioMin: Double?
    public var importanceSamplingRatioMean: Double?
    public var importanceSamplingRatioMax: Double?
    /// `policy_loss`: the loss before the entropy bonus; logged when the bonus is on.
    public var policyLoss: Double?
    /// `entropy_coef`: the bonus's coefficient; logged when the bonus is on.
    public var entropyCoef: Double?

    public init(clipRatioLow: Double? = nil, clipRatioLowMin: Double? = nil, clipRatioHigh: Double? = nil,
                clipRatioHighMax: Double? = nil, clipRatioRegion: Double? = nil, cispoClipRatio: Double? = nil,
                vespoPhiSeqMean: Double? = nil, kl: Double? = nil, entropy: Double? = nil,
                fracRewardZeroStd: Double? = nil, policyLoss: Double? = nil, entropyCoef: Double? = nil) {
        // (The sampling metrics are set by the paths after construction.)
        self.clipRatioLow = clipRatioLow
        self.clipRatioLowMin = clipRatioLowMin
        self.clipRatioHigh = clipRatioHigh
        self.clipRatioHighMax = clipRatioHighMax
        self.clipRatioRegion = clipRatioRegion
        self.cispoClipRatio = cispoClipRatio
        self.vespoPhiSeqMean = vespoPhiSeqMean
        self.kl = kl
        self.entropy = entropy
        self.fracRewardZeroStd = fracRewardZeroStd
        self.policyLoss = policyLoss
        self.entropyCoef = entropyCoef
    }

    /// Every metric by its TRL name, in one order; nil where it is not logged.
    public static let names: [(name: String, value: KeyPath<Metrics, Double?> & Sendable)] = [
        ("clip_ratio/low_mean", \.clipRatioLow), ("clip_ratio/low_min", \.clipRatioLowMin),
        ("clip_ratio/high_mean", \.clipRatioHigh), ("clip_ratio/high_max", \.clipRatioHighMax),
        ("clip_ratio/region_mean", \.clipRatioRegion), ("cispo_clip_ratio", \.cispoClipRatio),
        ("vespo/phi_seq_mean", \.vespoPhiSeqMean), ("kl", \.kl), ("entropy", \.entropy),
        ("frac_reward_zero_std", \.fracRewardZeroStd),
        ("sampling/sampling_logp_difference/mean", \.samplingLogpDifferenceMean),
        ("sampling/sampling_logp_difference/max", \.samplingLogpDifferenceMax),
        ("sampling/importance_sampling_ratio/min", \.importanceSamplingRatioMin),
        ("sampling/importance_sampling_ratio/mean", \.importanceSamplingRatioMean),
        ("sampling/importance_sampling_ratio/max", \.importanceSamplingRatioMax),
        ("policy_loss", \.policyLoss), ("entropy_coef", \.entropyCoef),
    ]

    /// The metrics this breakdown has, (TRL name, value), in `names` order.
    public var named: [(name: String, value: Double)] {
        Self.names.compactMap { entry in self[keyPath: entry.value].map { (entry.name, $0) } }
    }

    /// The value logged under a TRL name, nil when there is none.
    public func value(named name: String) -> Double? {
        Self.names.first { $0.name == name }.flatMap { self[keyPath: $0.value] }
    }
}
