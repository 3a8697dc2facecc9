/// The options of verl 0.9.1 that shape what its actor backpropagates, under verl's own leaf
/// names (`actor_rollout_ref.actor.*`, `...actor.policy_loss.*`, `algorithm.*`,
/// `algorithm.rollout_correction.*`), each with verl's default. A batch file's `"verl"` object
/// sets them; `lossConfig(paddedWidth:)` translates them into the library-neutral `GRPOConfig`
/// (`VerlLoss.swift`: the one table from verl's words to the terms). Lesson 14.
public struct VerlOptions: Sendable, Equatable {
    /// `policy_loss.loss_mode`: verl's registered policy losses.
    public enum LossMode: String, Sendable, CaseIterable {
        case vanilla, gspo, sapo, cispo, gpg
        case geoMean = "geo_mean", klCov = "kl_cov", clipCov = "clip_cov"
        case dro
        case dppoTV = "dppo_tv", dppoKL = "dppo_kl"
        case bypassMode = "bypass_mode"
    }

    /// `kl_loss_type` without its `+`: verl's `kl_penalty` names (two for each estimator).
    public enum KLLossType: String, Sendable, CaseIterable {
        case kl, k1, abs, mse, k2
        case lowVarKL = "low_var_kl"
        case k3
        /// `full` is in verl's list but not implemented there either.
        case full
    }

    public var lossMode: LossMode = .vanilla
    /// `loss_agg_mode`: the names are `GRPOConfig.Aggregation`'s.
    public var lossAggMode: GRPOConfig.Aggregation = .tokenMean
    public var clipRatio = 0.2
    /// nil falls back to `clip_ratio` (verl's defaults are 0.2, not null, so `clip_ratio` alone is never read).
    public var clipRatioLow: Double? = 0.2
    public var clipRatioHigh: Double? = 0.2
    public var clipRatioC = 3.0
    public var useKLLoss = false
    public var klLossCoef = 0.001
    public var klLossType: KLLossType = .lowVarKL
    /// A `+` after `kl_loss_type`: the straight-through form.
    public var klStraightThrough = false
    public var entropyCoeff = 0.0
    public var calculateEntropy = false
    public var lossScaleFactor: Double? = nil
    public var tauPos = 1.0, tauNeg = 1.05
    public var clipCovRatio = 0.0002, clipCovLB = 1.0, clipCovUB = 5.0
    public var clipCovSeed: Int? = nil
    public var klCovRatio = 0.0002, ppoKLCoef = 0.1
    public var droBeta: Double? = nil
    /// `algorithm.adv_estimator` (verl's `AdvantageEstimator` values; `VerlAdvantages` says which
    /// are computed). grpo by default here; verl's own default, gae, needs a critic.
    public var advEstimator = "grpo"
    public var normAdvByStdInGRPO = true
    public var gdpoRewardWeights: [Double]? = nil
    /// `algorithm.rollout_correction.*`: `rollout_is` (token, sequence or none), its threshold
    /// (a number or "lower_upper"), batch normalization, `rollout_rs` and its thresholds.
    public var rolloutIS: String? = nil
    public var rolloutISThreshold = "2.0"
    public var rolloutISBatchNormalize = false
    public var rolloutRS: String? = nil
    public var rolloutRSThreshold: String? = nil
    /// `policy_loss.loss_type` of `bypass_mode`: ppo_clip or reinforce.
    public var lossType = "ppo_clip"
    /// `data.max_response_length`: the padded width seq-mean-token-sum-norm divides by when
    /// `loss_scale_factor` is null (nil: the longest completion of the batch).
    public var maxResponseLength: Int? = nil

    public init() {}

    /// verl's five `loss_agg_mode`s (`seq-mean`, GMPO's once-per-completion mean, is not one).
    public static let lossAggModes: [GRPOConfig.Aggregation] = [
        .tokenMean, .sequenceMeanTokenMean, .sequenceMeanTokenSum, .constantNormalizer, .tokenSum,
    ]

    /// Every key a `"verl"` object may hold, in verl's order of appearance in its config.
    public static let keys = [
        "loss_mode", "loss_agg_mode", "clip_ratio", "clip_ratio_low", "clip_ratio_high", "clip_ratio_c",
        "use_kl_loss", "kl_loss_coef", "kl_loss_type", "entropy_coeff", "calculate_entropy", "loss_scale_factor",
        "tau_pos", "tau_neg", "clip_cov_ratio", "clip_cov_lb", "clip_cov_ub", "clip_cov_seed", "kl_cov_ratio",
        "ppo_kl_coef", "dro_beta", "adv_estimator", "norm_adv_by_std_in_grpo", "gdpo_reward_weights",
        "rollout_is", "rollout_is_threshold", "rollout_is_batch_normalize", "rollout_rs", "rollout_rs_threshold",
        "loss_type", "max_response_length",
    ]

    /// Sets `key` from text as a batch file writes it ("none" for null, "true"/"false", numbers,
    /// words, "1,0.5" for a list), refusing what verl's config would refuse to parse.
    public mutating func set(_ key: String, to text: String) throws(ConfigError) {
        let word = text.trimmingWhitespace
        let isNone = ["none", "null"].contains(word.lowercased())
        func number() throws(ConfigError) -> Double {
            guard let x = Double(decimalText: word), x.isFinite else { throw ConfigError("\(key) must be a finite number, not '\(text)'") }
            return x
        }
        func optionalNumber() throws(ConfigError) -> Double? { isNone ? nil : try number() }
        func flag() throws(ConfigError) -> Bool {
            guard let b = Bool(optionText: word) else { throw ConfigError("\(key) must be true or false, not '\(text)'") }
            return b
        }
        func choice<E: RawRepresentable & CaseIterable>(_: E.Type) throws(ConfigError) -> E where E.RawValue == String {
            guard let value = E(rawValue: word) else {
                throw ConfigError("\(key) must be one of \(E.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
            }
            return value
        }
        func optionalWord() -> String? { isNone ? nil : word }
        switch key {
        case "loss_mode": lossMode = try choice(LossMode.self)
        case "loss_agg_mode":
            // verl's ActorConfig refuses an unknown mode with this message.
            guard let mode = GRPOConfig.Aggregation(rawValue: word), Self.lossAggModes.contains(mode) else {
                throw ConfigError("Invalid loss_agg_mode: \(word)")
            }
            lossAggMode = mode
        case "clip_ratio": clipRatio = try number()
        case "clip_ratio_low": clipRatioLow = try optionalNumber()
        case "clip_ratio_high": clipRatioHigh = try optionalNumber()
        case "clip_ratio_c": clipRatioC = try number()
        case "use_kl_loss": useKLLoss = try flag()
        case "kl_loss_coef": klLossCoef = try number()
        case "kl_loss_type":
            let straight = word.hasSuffix("+")
            let base = straight ? String(word.dropLast()) : word
            guard let type = KLLossType(rawValue: base) else {
                throw ConfigError("kl_loss_type must be one of \(KLLossType.allCases.map(\.rawValue).joined(separator: ", ")), "
                                  + "each with an optional '+', not '\(text)'")
            }
            (klLossType, klStraightThrough) = (type, straight)
        case "entropy_coeff": entropyCoeff = try number()
        case "calculate_entropy": calculateEntropy = try flag()
        case "loss_scale_factor": lossScaleFactor = try optionalNumber()
        case "tau_pos": tauPos = try number()
        case "tau_neg": tauNeg = try number()
        case "clip_cov_ratio": clipCovRatio = try number()
        case "clip_cov_lb": clipCovLB = try number()
        case "clip_cov_ub": clipCovUB = try number()
        case "clip_cov_seed": clipCovSeed = try optionalNumber().map { Int($0) }
        // null reads as verl's fallback in `compute_policy_loss_kl_cov` (1.0 for ppo_kl_coef, not its default 0.1).
        case "kl_cov_ratio": klCovRatio = isNone ? 0.0002 : try number()
        case "ppo_kl_coef": ppoKLCoef = isNone ? 1.0 : try number()
        case "dro_beta": droBeta = try optionalNumber()
        case "adv_estimator": advEstimator = word
        case "norm_adv_by_std_in_grpo": normAdvByStdInGRPO = try flag()
        case "gdpo_reward_weights":
            if isNone { gdpoRewardWeights = nil; return }
            var weights: [Double] = []
            for item in word.split(separator: ",") {
                guard let x = Double(decimalText: String(item).trimmingWhitespace), x.isFinite else {
                    throw ConfigError("gdpo_reward_weights must be null or a list of numbers, not '\(text)'")
                }
                weights.append(x)
            }
            gdpoRewardWeights = weights
        case "rollout_is": rolloutIS = optionalWord()
        case "rollout_is_threshold": rolloutISThreshold = word
        case "rollout_is_batch_normalize": rolloutISBatchNormalize = try flag()
        case "rollout_rs": rolloutRS = optionalWord()
        case "rollout_rs_threshold": rolloutRSThreshold = optionalWord()
        case "loss_type": lossType = word
        case "max_response_length":
            guard isNone || (Int(word).map { $0 >= 1 } ?? false) else {
                throw ConfigError("max_response_length must be null or a whole number >= 1, not '\(text)'")
            }
            maxResponseLength = isNone ? nil : Int(word)
        default:
            throw ConfigError("unknown verl option \"\(key)\"; a \"verl\" object takes \(Self.keys.joined(separator: ", "))")
        }
    }

    /// Every option as text, as `set` reads it ("none" for null), in `keys` order.
    public var settings: [(key: String, value: String)] {
        func n(_ x: Double?) -> String { x.map(\.optionText) ?? "none" }
        func b(_ x: Bool) -> String { x ? "true" : "false" }
        let values: [String] = [
            lossMode.rawValue, lossAggMode.rawValue, n(clipRatio), n(clipRatioLow), n(clipRatioHigh), n(clipRatioC),
            b(useKLLoss), n(klLossCoef), klLossType.rawValue + (klStraightThrough ? "+" : ""), n(entropyCoeff),
            b(calculateEntropy), n(lossScaleFactor), n(tauPos), n(tauNeg), n(clipCovRatio), n(clipCovLB), n(clipCovUB),
            clipCovSeed.map(String.init) ?? "none", n(klCovRatio), n(ppoKLCoef), n(droBeta), advEstimator,
            b(normAdvByStdInGRPO), gdpoRewardWeights.map { $0.map(\.optionText).joined(separator: ",") } ?? "none",
            rolloutIS ?? "none", rolloutISThreshold, b(rolloutISBatchNormalize), rolloutRS ?? "none",
            rolloutRSThreshold ?? "none", lossType, maxResponseLength.map(String.init) ?? "none",
        ]
        return Array(zip(Self.keys, values)).map { (key: $0.0, value: $0.1) }
    }

    /// Checks every value as it is checked where it is read, whichever loss mode, estimator or
    /// correction reads it: for the REPL's `set`, where an invalid value changes nothing. (verl,
    /// and a batch file here, refuse a value only when something reads it.)
    public func checkValues() throws(ConfigError) {
        _ = try VerlAdvantages.estimator(self)
        guard ["ppo_clip", "reinforce"].contains(lossType) else {
            throw ConfigError("loss_type must be ppo_clip or reinforce (bypass_mode's policy loss), not '\(lossType)'")
        }
        if let beta = droBeta, !(beta > 0) { throw ConfigError("dro_beta must be positive or null (dro's check), not \(beta.optionText)") }
        guard klCovRatio > 0 && klCovRatio <= 1 else { throw ConfigError("kl_cov_ratio must be in (0, 1], not \(klCovRatio.optionText)") }
        guard tauPos > 0 && tauNeg > 0 else { throw ConfigError("tau_pos and tau_neg must be > 0 (sapo divides by them)") }
        if let seed = clipCovSeed, seed < 0 { throw ConfigError("clip_cov_seed must be a whole number >= 0 or null, not \(seed)") }
        // Every loss mode's own checks, and the rollout correction's, on a batch of one group.
        for mode in LossMode.allCases where mode != .dro || droBeta != nil {
            var o = self
            o.lossMode = mode
            if mode == .vanilla || mode == .bypassMode { o.clipRatioC = max(clipRatioC, 1.5) }  // checked when it is the mode
            _ = try o.lossConfig(paddedWidth: 1)
        }
        let probe = Batch(groups: [Group(completions: [Completion(reward: 1, logp: [-1], samplerLogp: [-1]),
                                                       Completion(reward: 0, logp: [-1], samplerLogp: [-1])])])
        _ = try VerlRolloutCorrection.threshold(rolloutISThreshold)  // read only with rollout_is, checked anyway
        _ = try VerlRolloutCorrection.weights(probe, options: self)
        _ = try VerlRejectionSampling.rejection(probe, options: self)
    }

    /// verl's actor computes the entropy term (and logs `actor/entropy_loss`).
    public var reportsEntropy: Bool { entropyCoeff != 0 || calculateEntropy }

    /// verl's fallback: `clip_ratio_low` or, when it is null, `clip_ratio`.
    public var resolvedClipRatioLow: Double { clipRatioLow ?? clipRatio }
    public var resolvedClipRatioHigh: Double { clipRatioHigh ?? clipRatio }
}
