extension Naive {
    /// The whole loss for a batch, term by term, with d loss / d logp from `Scalar.backward()`:
    ///
    ///     L_it = (-objective(r_it, A_i, logp_it) + k_it |log r_it|) * keep_it * w_it + beta * KL_it   (counted tokens)
    ///     loss = aggregate(L) - entropy_coef * entropy                             (`LossTerms.swift`)
    ///
    /// (the policy terms and the KL terms each aggregated as `policy_agg_mode` and `loss_agg_mode`
    /// say, alike unless verl's sapo sets them apart).
    ///
    /// k_it the given log-ratio penalty (`logRatioPenalty`, 0 without one), keep_it the off-policy
    /// sequence mask times the entropy mask, w_it the sampler weight;
    /// KL uses the chosen estimator, times r_it when `use_bias_correction_kl`. A token the loss
    /// does not count (`lossMask`) has L = 0 and no gradient.
    public static func breakdown(_ batch: Batch, config: GRPOConfig) throws(BatchError) -> Breakdown {
        try batch.validate(for: config)
        let completions = batch.completions
        let lengths = completions.map(\.length)
        let counted = completions.map { lossMask($0, config: config) }
        let (advantage, groupMean, groupStd) = advantages(of: batch, config: config)

        // The leaves we differentiate with respect to: logp of every token.
        var logp: [[Scalar]] = []
        for c in completions {
            var row: [Scalar] = []
            for x in c.logp { row.append(Scalar(x)) }
            logp.append(row)
        }

        var threshold: Double? = nil
        if config.topEntropyQuantile < 1 {
            threshold = entropyThreshold(entropies: completions.map { $0.entropy! }, counted: counted,
                                         topQuantile: config.topEntropyQuantile, rank: config.entropyQuantileRank)
        }
        let keepPolicy: [Bool]? = config.offPolicyMaskThreshold.map { limit in
            completions.indices.map { i in
                let c = completions[i]
                return offPolicyKeep(logp: c.logp, samplerLogp: c.samplerLogp ?? c.oldLogp, counted: counted[i],
                                     advantage: advantage[i], threshold: limit)
            }
        }

        var ratio = Ragged(repeating: 0.0, lengths: lengths)
        var kl: Ragged<Double>? = batch.hasReference ? Ragged(repeating: 0.0, lengths: lengths) : nil
        var mask: Ragged<Bool>? = threshold == nil ? nil : Ragged(repeating: true, lengths: lengths)
        let correctSampler = batch.usesSamplerCorrection(config)
        let weighted = correctSampler || batch.hasPolicyWeight
        var samplerWeight: Ragged<Double>? = weighted ? Ragged(repeating: 1.0, lengths: lengths) : nil
        var vespoWeights: [Double]? = config.objective == .vespo ? [] : nil
        var perTokenLossValue = Ragged(repeating: 0.0, lengths: lengths)
        var policyTerms: [[Scalar]] = [], klTerms: [[Scalar]] = []

        for i in 0..<completions.count {
            let c = completions[i]
            // The policy term's importance weights: as a trainer gave them, or the sampler correction's.
            let weights = c.policyWeight ?? (correctSampler
                ? samplerWeights(oldLogp: c.oldLogp, samplerLogp: c.samplerLogp!, counted: counted[i], config: config) : nil)
            var row = RowTerms(advantage: advantage[i], counted: counted[i].filter { $0 }.count)
            // GSPO: one ratio for the row (TRL), or its mean log-ratio for verl's per-token form.
            var meanLog: Scalar? = nil
            if config.objective == .geoMean {
                row.sequenceRatio = geoMeanRatio(logp: logp[i], oldLogp: c.oldLogp, counted: counted[i], advantage: advantage[i], config: config)
            } else if config.importanceSamplingLevel == .sequence {
                switch config.sequenceRatioGradient {
                case .shared: row.sequenceRatio = sequenceRatio(logp: logp[i], oldLogp: c.oldLogp, counted: counted[i], config: config)
                case .perToken: meanLog = meanLogRatio(logp: logp[i], oldLogp: c.oldLogp, counted: counted[i])
                }
            }
            if vespoWeights != nil {
                let logW = vespoLogWeight(logp: logp[i], oldLogp: c.oldLogp, counted: counted[i], samplerWeights: weights)
                row.vespoWeight = vespoWeight(logWeight: logW, advantage: advantage[i], config: config)
                vespoWeights!.append(row.vespoWeight!.value)
            }
            var rowPolicy: [Scalar] = [], rowKL: [Scalar] = []
            for t in 0..<c.length {
                let r = row.sequenceRatio
                    ?? meanLog.map { perTokenSequenceRatio(logp: logp[i][t], meanLogRatio: $0, config: config) }
                    ?? tokenRatio(logp: logp[i][t], oldLogp: c.oldLogp[t], config: config)
                ratio[i, t] = r.value
                if let weights { samplerWeight![i, t] = weights[t] }
                let keepsEntropy = threshold.map { entropyMask(entropy: c.entropy![t], threshold: $0) && counted[i][t] }
                if let keepsEntropy { mask![i, t] = keepsEntropy }
                let penalty = c.refLogp.map { ref in
                    biasCorrectedKL(klPenalty(logp: logp[i][t], refLogp: ref[t], config: config),
                                    ratio: r, completion: c, token: t, counted: counted[i], config: config)
                }
                if let penalty { kl![i, t] = penalty.value }
                guard counted[i][t] else { continue }  // out of the loss: L = 0, no gradient

                var policyLoss = -policyObjective(ratio: r, logp: logp[i][t], oldLogp: c.oldLogp[t], row: row, config: config)
                if let k = c.logRatioPenalty?[t], k != 0 {
                    policyLoss = policyLoss + logRatioPenalty(logp: logp[i][t], oldLogp: c.oldLogp[t], coefficient: k)
                }
                // The masks select the term away (exactly 0), they do not multiply it by 0.
                if keepPolicy?[i] == false || keepsEntropy == false { policyLoss = Scalar(0) }
                if let weights, !config.objective.foldsSamplerWeight {
                    policyLoss = weights[t] == 0 ? Scalar(0) : policyLoss * weights[t]
                }
                let klTerm = penalty.map { config.beta != 0 ? $0 * config.beta : Scalar(0) } ?? Scalar(0)
                perTokenLossValue[i, t] = policyLoss.value + klTerm.value
                rowPolicy.append(policyLoss)
                rowKL.append(klTerm)
            }
            policyTerms.append(rowPolicy)
            klTerms.append(rowKL)
        }

        let policyLoss = aggregate(policyTerms, aggregation: config.policyAggregation, config: config)
            + aggregate(klTerms, aggregation: config.aggregation, config: config)
        var bonus: EntropyBonus? = nil
        if config.entropyCoef != 0 {
            switch config.entropyAggregation {
            case .actingTokenMean:
                let acting = completions.indices.map { i in counted[i].indices.map { counted[i][$0] && (mask?[i, $0] ?? true) } }
                bonus = entropyBonus(entropy: completions.map { $0.entropy! }, acting: acting, coefficient: config.entropyCoef)
            case .lossAggregation:
                bonus = aggregatedEntropyBonus(entropy: completions.map { $0.entropy! }, counted: counted, config: config)
            }
        }
        // The entropies are data here: the bonus shifts the loss and sends nothing back to logp.
        let loss = policyLoss - (bonus?.value ?? 0)
        loss.backward()

        var grad = Ragged(repeating: 0.0, lengths: lengths)
        for i in completions.indices {
            for t in 0..<lengths[i] { grad[i, t] = logp[i][t].grad }
        }
        let countedTokens = counted.map { $0.filter { $0 }.count }
        let totalCounted = countedTokens.reduce(0, +)
        let hasLossMask = counted.contains { $0.contains(false) }
        var breakdown = Breakdown(
            config: config, groupSize: batch.groupSize, groupSizes: batch.groups.map(\.completions.count),
            groupMean: groupMean, groupStd: groupStd,
            advantages: advantage, ratio: ratio, kl: kl,
            lossMask: hasLossMask ? Ragged(values: counted.flatMap { $0 }, offsets: ratio.offsets) : nil,
            offPolicyMask: keepPolicy, entropyMask: mask, samplerWeight: samplerWeight, vespoWeight: vespoWeights,
            perTokenLoss: perTokenLossValue,
            weight: countedTokens.map {
                tokenWeight(countedTokens: $0, completionCount: completions.count, totalCounted: totalCounted,
                            aggregation: config.policyAggregation, config: config)
            },
            regularizerWeight: config.policyAggregation == config.aggregation ? nil : countedTokens.map {
                tokenWeight(countedTokens: $0, completionCount: completions.count, totalCounted: totalCounted,
                            aggregation: config.aggregation, config: config)
            },
            gradLogp: grad, policyLoss: policyLoss.value, entropyBonus: bonus, loss: loss.value, metrics: Metrics())
        breakdown.metrics = naiveMetrics(batch: batch, breakdown: breakdown)
        return breakdown
    }
}
