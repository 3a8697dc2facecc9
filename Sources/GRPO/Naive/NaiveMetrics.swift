extension Naive {
    /// The logged metrics, as TRL computes them: shares and means over the tokens the loss counts
    /// (over completions at `sequence` level, where one ratio stands for a whole completion), the
    /// clip shares per completion for `_min` and `_max` (completions with no counted token left
    /// out), each objective's own clip metric. Lessons 04 and 05.
    static func naiveMetrics(batch: Batch, breakdown b: Breakdown) -> Metrics {
        let config = b.config
        let completions = batch.completions
        let sequenceLevel = config.importanceSamplingLevel == .sequence
        // One (low, high, units) count per completion, for the objective's clip test.
        var perRow: [(low: Double, high: Double, units: Double)] = []
        for i in completions.indices {
            var low = 0.0, high = 0.0, units = 0.0
            let tokens = sequenceLevel ? [0] : Array(0..<completions[i].length).filter { b.counts(row: i, token: $0) }
            for t in tokens {
                let r = sequenceLevel ? (completions[i].length > 0 ? b.ratio[i, 0] : 1) : b.ratio[i, t]
                let a = b.advantages[i]
                switch config.objective {
                case .clipMin:
                    if r < 1 - config.epsilon && a < 0 { low += 1 }
                    // TRL tests the ratio after capping it at delta.
                    if min(r, unclippedRatioCap(config)) > 1 + config.resolvedEpsilonHigh && a > 0 { high += 1 }
                case .cispo:
                    // The capped side: above TRL's cap, or above the range's top (verl's form).
                    if r > cispoCountBound(config) && a > 0 { high += 1 }
                case .sapo, .vespo, .reinforce, .dro, .dppoTV, .dppoKL, .geoMean, .unclipped:
                    break  // no TRL clip metric (verl's: `VerlMetrics`)
                }
                units += 1
            }
            perRow.append((low, high, units))
        }
        let units = max(perRow.reduce(0) { $0 + $1.units }, 1)
        let lowShare = perRow.reduce(0) { $0 + $1.low } / units
        let highShare = perRow.reduce(0) { $0 + $1.high } / units
        var m = Metrics()
        switch config.objective {
        case .clipMin:
            let rows = perRow.filter { $0.units > 0 }
            m.clipRatioLow = lowShare
            m.clipRatioHigh = highShare
            m.clipRatioRegion = lowShare + highShare  // a token cannot be clipped on both sides
            m.clipRatioLowMin = rows.map { $0.low / $0.units }.min() ?? .nan
            m.clipRatioHighMax = rows.map { $0.high / $0.units }.max() ?? .nan
        case .cispo:
            m.cispoClipRatio = highShare
        case .vespo:
            m.vespoPhiSeqMean = (b.vespoWeight ?? []).reduce(0, +) / Double(max(completions.count, 1))
        case .sapo, .reinforce, .dro, .dppoTV, .dppoKL, .geoMean, .unclipped:
            break
        }
        var klSum = 0.0, entropySum = 0.0, tokens = 0.0
        for i in completions.indices {
            for t in 0..<completions[i].length where b.counts(row: i, token: t) {
                if let kl = b.kl { klSum += kl[i, t] }
                if let e = completions[i].entropy { entropySum += e[t] }
                tokens += 1
            }
        }
        if b.kl != nil { m.kl = klSum / max(tokens, 1) }
        if batch.hasEntropy { m.entropy = entropySum / max(tokens, 1) }
        // With scale_rewards=batch every entry of groupStd is the batch std, as TRL tests it.
        if !b.groupStd.isEmpty {
            m.fracRewardZeroStd = Double(b.groupStd.filter { isZeroStd($0) }.count) / Double(b.groupStd.count)
        }
        if batch.usesSamplerCorrection(config) && !batch.hasPolicyWeight { samplingMetrics(batch, breakdown: b, into: &m) }
        if config.hasEntropyBonus {
            m.policyLoss = b.policyLoss
            m.entropyCoef = config.entropyCoef
        }
        return m
    }

    /// The ratio above which `cispo_clip_ratio` counts a token with A > 0: TRL's cap epsilon_high,
    /// or 1 + epsilon_high under verl's clip range.
    static func cispoCountBound(_ config: GRPOConfig) -> Double {
        switch config.cispoClip {
        case .cap: config.resolvedEpsilonHigh
        case .range: 1 + config.resolvedEpsilonHigh
        }
    }

    /// TRL's `sampling/*` metrics of the sampler/trainer correction: |old - sampler| over the
    /// counted tokens (mean, max; 0 without any), and the weights (min, mean, max) of the counted
    /// tokens, or of every completion in the sequence modes (a completion without counted tokens
    /// has weight bounded(exp(0))).
    static func samplingMetrics(_ batch: Batch, breakdown b: Breakdown, into m: inout Metrics) {
        let config = b.config
        var gaps: [Double] = [], weights: [Double] = []
        for (i, c) in batch.completions.enumerated() {
            let counted = lossMask(c, config: config)
            for t in 0..<c.length where counted[t] { gaps.append(abs(c.oldLogp[t] - c.samplerLogp![t])) }
            if config.vllmImportanceSamplingMode.isSequenceLevel {
                weights.append(sequenceSamplerWeight(oldLogp: c.oldLogp, samplerLogp: c.samplerLogp!, counted: counted,
                                                     config: config))
            } else {
                for t in 0..<c.length where counted[t] { weights.append(b.samplerWeight![i, t]) }
            }
        }
        m.samplingLogpDifferenceMean = gaps.isEmpty ? 0 : gaps.reduce(0, +) / Double(gaps.count)
        m.samplingLogpDifferenceMax = gaps.max() ?? 0
        m.importanceSamplingRatioMin = weights.min() ?? 0
        m.importanceSamplingRatioMean = weights.isEmpty ? 0 : weights.reduce(0, +) / Double(weights.count)
        m.importanceSamplingRatioMax = weights.max() ?? 0
    }
}
