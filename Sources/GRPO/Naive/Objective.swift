extension Naive {
    /// The whole loss for a batch, term by term, with d loss / d logp from `Scalar.backward()`.
    ///
    ///     L_it = -min(r_it A_i, clip(r_it) A_i) * m_it + beta * KL_it     (per-token loss)
    ///     loss = sum_it w_it L_it                                          (w from loss_type)
    ///
    /// m_it is 1, or the entropy mask when `top_entropy_quantile` < 1, times the sampler weight
    /// when completions carry `sampler_logp`. KL uses the chosen estimator, times r_it when
    /// `use_bias_correction_kl`.
    public static func breakdown(_ batch: Batch, config: GRPOConfig) throws(BatchError) -> Breakdown {
        try batch.validate(for: config)
        let completions = batch.completions
        let lengths = completions.map(\.length)
        let completionCount = completions.count
        let tokenCount = batch.tokenCount

        // A_i, one per completion: group-relative, or as the batch gives them (no groups, no stds).
        let advantage: [Double], groupMean: [Double], groupStd: [Double]
        if batch.hasGivenAdvantages {
            (advantage, groupMean, groupStd) = (completions.map { $0.advantage! }, [], [])
        } else {
            let groupAdvantages: [[Double]]
            (groupAdvantages, groupMean, groupStd) = advantages(rewards: batch.groups.map(\.rewards), config: config)
            advantage = groupAdvantages.flatMap { $0 }
        }

        // The leaves we differentiate with respect to: logp of every token.
        var logp: [[Scalar]] = []
        for c in completions {
            var row: [Scalar] = []
            for x in c.logp { row.append(Scalar(x)) }
            logp.append(row)
        }

        var threshold: Double? = nil
        if config.topEntropyQuantile < 1 {
            threshold = entropyThreshold(entropies: completions.map { $0.entropy! }, topQuantile: config.topEntropyQuantile)
        }

        var ratio = Ragged(repeating: 0.0, lengths: lengths)
        var kl: Ragged<Double>? = batch.hasReference ? Ragged(repeating: 0.0, lengths: lengths) : nil
        var mask: Ragged<Bool>? = threshold == nil ? nil : Ragged(repeating: true, lengths: lengths)
        let correctSampler = batch.usesSamplerCorrection(config)
        var samplerWeight: Ragged<Double>? = correctSampler ? Ragged(repeating: 1.0, lengths: lengths) : nil
        var perTokenLossValue = Ragged(repeating: 0.0, lengths: lengths)
        var perTokenLoss: [[Scalar]] = []

        for i in 0..<completionCount {
            let c = completions[i]
            let sequenceRatio = config.importanceSamplingLevel == .sequence
                ? Naive.sequenceRatio(logp: logp[i], oldLogp: c.oldLogp) : nil
            let weights = correctSampler ? samplerWeights(oldLogp: c.oldLogp, samplerLogp: c.samplerLogp!, config: config) : nil
            var row: [Scalar] = []
            for t in 0..<c.length {
                let r = sequenceRatio ?? tokenRatio(logp: logp[i][t], oldLogp: c.oldLogp[t])
                var policyLoss = -clippedSurrogate(ratio: r, advantage: advantage[i], config: config)
                if let threshold, !entropyMask(entropy: c.entropy![t], threshold: threshold) {
                    policyLoss = Scalar(0)  // selected away, not multiplied by 0
                    mask![i, t] = false
                }
                if let weights {
                    policyLoss = weights[t] == 0 ? Scalar(0) : policyLoss * weights[t]
                    samplerWeight![i, t] = weights[t]
                }
                var tokenLoss = policyLoss
                if let ref = c.refLogp {
                    var penalty = klPenalty(logp: logp[i][t], refLogp: ref[t], estimator: config.klEstimator)
                    if config.useBiasCorrectionKL {
                        // KL * r, except where inf * 0 would be NaN: a KL of exactly 0 with a ratio
                        // that overflowed to inf is 0; a KL that overflowed with a ratio that
                        // underflowed to 0 is their product taken in logs.
                        if penalty.value == 0 && !r.value.isFinite {
                            penalty = Scalar(0)
                        } else if penalty.value == .infinity && r.value == 0 {
                            let logRatio = config.importanceSamplingLevel == .sequence
                                ? c.logp.indices.reduce(0.0) { $0 + (c.logp[$1] - c.oldLogp[$1]) } / Double(c.length)
                                : c.logp[t] - c.oldLogp[t]
                            penalty = Scalar(overflowedBiasCorrectedKL(d: ref[t] - c.logp[t], logRatio: logRatio,
                                                                       estimator: config.klEstimator))
                        } else {
                            penalty = penalty * r
                        }
                    }
                    kl![i, t] = penalty.value
                    if config.beta != 0 { tokenLoss = tokenLoss + penalty * config.beta }
                }
                ratio[i, t] = r.value
                perTokenLossValue[i, t] = tokenLoss.value
                row.append(tokenLoss)
            }
            perTokenLoss.append(row)
        }

        // The aggregate, written as the formula of each loss_type.
        var rowSums: [Scalar] = []
        for i in 0..<completionCount { rowSums.append(Scalar.sum(perTokenLoss[i])) }
        let loss: Scalar
        switch config.lossType {
        case .grpo:
            var rowMeans: [Scalar] = []
            for i in 0..<completionCount { rowMeans.append(rowSums[i] / Double(max(lengths[i], 1))) }
            loss = Scalar.sum(rowMeans) / Double(completionCount)
        case .bnpo, .dapo:
            loss = Scalar.sum(rowSums) / Double(max(tokenCount, 1))
        case .drGRPO:
            loss = Scalar.sum(rowSums) / Double(completionCount * config.maxCompletionLength)
        }
        loss.backward()

        var grad = Ragged(repeating: 0.0, lengths: lengths)
        for i in 0..<completionCount {
            for t in 0..<lengths[i] { grad[i, t] = logp[i][t].grad }
        }

        let metrics = naiveMetrics(batch: batch, config: config, advantage: advantage, ratio: ratio, kl: kl,
                                   groupStd: groupStd)
        return Breakdown(
            config: config, groupSize: batch.groupSize, groupMean: groupMean,
            groupStd: groupStd,
            advantages: advantage, ratio: ratio, kl: kl,
            entropyMask: mask, samplerWeight: samplerWeight, perTokenLoss: perTokenLossValue,
            weight: lengths.map { tokenWeight(length: $0, completionCount: completionCount, tokenCount: tokenCount, config: config) },
            gradLogp: grad,
            loss: loss.value, metrics: metrics)
    }

    /// The logged metrics, as TRL computes them: clip fractions and KL are means over valid tokens
    /// (over completions for `sequence` level, where one ratio stands for the whole completion).
    static func naiveMetrics(batch: Batch, config: GRPOConfig, advantage: [Double], ratio: Ragged<Double>,
                             kl: Ragged<Double>?, groupStd: [Double]) -> Metrics {
        let completions = batch.completions
        let low = 1 - config.epsilon
        let high = 1 + config.resolvedEpsilonHigh
        var lowCount = 0.0, highCount = 0.0, regionCount = 0.0, units = 0.0
        var klSum = 0.0, entropySum = 0.0, tokens = 0.0
        for i in completions.indices {
            let c = completions[i]
            // Sequence level: one ratio per completion; an empty completion has ratio 1.
            let ratios: [Double] = config.importanceSamplingLevel == .sequence
                ? [c.length > 0 ? ratio[i, 0] : 1] : Array(ratio[i])
            for r in ratios {
                let isLow = r < low && advantage[i] < 0
                // TRL tests the ratio after capping it at delta (so with delta <= 1 + eps_high
                // nothing counts as high-clipped).
                let isHigh = min(r, config.delta ?? .infinity) > high && advantage[i] > 0
                if isLow { lowCount += 1 }
                if isHigh { highCount += 1 }
                if isLow || isHigh { regionCount += 1 }
                units += 1
            }
            for t in 0..<c.length {
                if let kl { klSum += kl[i, t] }
                if let e = c.entropy { entropySum += e[t] }
                tokens += 1
            }
        }
        units = max(units, 1)
        // With scale_rewards=batch every entry of groupStd is the batch std, as TRL tests it.
        let zeroStdShare = groupStd.isEmpty ? nil : Double(groupStd.filter { isZeroStd($0) }.count) / Double(groupStd.count)
        return Metrics(
            clipRatioLow: lowCount / units, clipRatioHigh: highCount / units,
            clipRatioRegion: regionCount / units,
            kl: kl == nil ? nil : klSum / max(tokens, 1),
            fracRewardZeroStd: zeroStdShare,
            entropy: batch.hasEntropy ? entropySum / max(tokens, 1) : nil)
    }
}
