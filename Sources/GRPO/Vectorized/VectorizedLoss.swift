import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Vectorized {
    /// Loss and d loss / d logp only: what a training step needs. `gradient` is resized to the
    /// batch's token count. `advantages` has one value per completion. This is the hot path: it
    /// checks the batch's layout (`FlatBatch.checkLayout`: every array as long as the offsets
    /// say, so nothing is read past an end) and what the options need (entropies for the entropy
    /// mask and bonus), not the values, which `Batch.validate(for:)` checks before flattening.
    public static func lossAndGradient(_ flat: FlatBatch, advantages: [Double], config: GRPOConfig,
                                       gradient: inout [Double]) throws(BatchError) -> Double {
        try flat.checkLayout(advantages: advantages.count)
        if (config.topEntropyQuantile < 1 || config.entropyCoef != 0) && !flat.hasEntropy {
            throw BatchError("the options use entropies (top_entropy_quantile < 1 or entropy_coef != 0) but the FlatBatch has none")
        }
        if gradient.count != flat.tokenCount {
            gradient = [Double](repeating: 0, count: flat.tokenCount)
        }
        let (mask, counted) = lossMask(tokenMask: { flat.mask.isEmpty ? nil : Array(flat.mask[flat.offsets[$0]..<flat.offsets[$0 + 1]]) },
                                       truncated: { flat.truncated.isEmpty ? false : flat.truncated[$0] },
                                       offsets: flat.offsets, config: config)
        let sums = withOptional(mask) { maskBuffer in
            withFlatRows(flat, samplerWeight: nil, lossMask: maskBuffer) { plain in
                let threshold = config.topEntropyQuantile < 1
                    ? entropyThreshold(plain, rows: flat.completionCount, topQuantile: config.topEntropyQuantile,
                                       rank: config.entropyQuantileRank) : nil
                let terms = rowTerms(plain, offsets: flat.offsets, advantages: advantages,
                                     uses: flat.hasSampler && config.vllmImportanceSamplingCorrection,
                                     given: flat.policyWeight.isEmpty ? nil : flat.policyWeight, config: config)
                return withFlatRows(flat, samplerWeight: terms.multiplyingWeights, lossMask: maskBuffer) { rows in
                    gradient.withUnsafeMutableBufferPointer { grad in
                        run(rows, offsets: flat.offsets, advantages: advantages, counted: mask == nil ? nil : counted,
                            keepPolicy: terms.keepPolicy, vespoWeight: terms.vespoWeight, config: config,
                            hasReference: flat.hasReference, threshold: threshold, grad: grad, sink: GradientOnly())
                    }
                }
            }
        }
        return sums.loss - entropyBonus(sums, config: config).map(\.value).orZero
    }

    /// Every intermediate quantity, computed in the same fused pass as `lossAndGradient` (the
    /// same kernel, so the loss and gradient are bit for bit the same), reading the batch's
    /// arrays in place. Throws what `Batch.validate(for:)` would: the shape is checked first, the
    /// values as the kernel reads them (`KernelSums.inputProbe`), so the batch is read only once.
    public static func breakdown(_ batch: Batch, config: GRPOConfig) throws(BatchError) -> Breakdown {
        try batch.validateShape(for: config)
        let hasReference = batch.hasReference, hasEntropy = batch.hasEntropy
        // The kernel checks what it reads. It does not read sampler log-probs (only the weights
        // made from them), nor entropies that only some completions carry: check those here.
        var inputsFinite = true
        do { try batch.validateTokenValues(hasEntropy ? [.samplerLogp, .policyWeight, .logRatioPenalty]
                                                            : [.samplerLogp, .policyWeight, .logRatioPenalty, .entropy]) } catch {
            inputsFinite = false
        }
        let completions = batch.completions
        var offsets = [0]
        offsets.reserveCapacity(completions.count + 1)
        for c in completions { offsets.append(offsets[offsets.count - 1] + c.length) }
        let n = offsets[completions.count]
        let (mask, counted) = lossMask(tokenMask: { completions[$0].mask }, truncated: { completions[$0].truncated },
                                       offsets: offsets, config: config)
        let countedTokens = counted.reduce(0, +)
        let (advantages, means, stds) = Vectorized.advantages(of: batch, config: config)
        let penalty = batch.hasLogRatioPenalty ? completions.flatMap { $0.logRatioPenalty! } : nil

        var threshold: Double? = nil
        var terms = RowTermsOfBatch()
        var sums = KernelSums()
        var ratio: [Double] = [], kl: [Double] = [], keep: [Bool] = [], perTokenLoss: [Double] = []
        let grad: [Double] = withOptional(mask) { maskBuffer in
            offsets.withUnsafeBufferPointer { offsetBuffer in
                let plain = CompletionRows(completions: completions, useReference: hasReference, useEntropy: hasEntropy,
                                           samplerWeight: nil, lossMask: maskBuffer, offsets: offsetBuffer)
                if config.topEntropyQuantile < 1 {
                    threshold = entropyThreshold(plain, rows: completions.count, topQuantile: config.topEntropyQuantile,
                                                 rank: config.entropyQuantileRank)
                }
                terms = rowTerms(plain, offsets: offsets, advantages: advantages, uses: batch.usesSamplerCorrection(config),
                                 given: batch.hasPolicyWeight ? completions.flatMap { $0.policyWeight! } : nil, config: config)
                // Every output is written exactly once by the kernel, so none is filled with zeros
                // first. The KL and the entropy mask are only kept (and so only written) when they exist.
                return written(n) { grad in
                    ratio = written(n) { ratio in
                        kl = written(hasReference ? n : 0) { kl in
                            keep = written(threshold == nil ? 0 : n) { keep in
                                perTokenLoss = written(n) { perTokenLoss in
                                    let sink = EveryQuantity(ratio: ratio, kl: hasReference ? kl : nil,
                                                             keep: threshold == nil ? nil : keep, perTokenLoss: perTokenLoss)
                                    sums = withOptional(terms.multiplyingWeights) { weights in
                                      withOptional(penalty) { penalty in
                                        run(CompletionRows(completions: completions, useReference: hasReference,
                                                           useEntropy: hasEntropy, samplerWeight: weights,
                                                           lossMask: maskBuffer, offsets: offsetBuffer, logRatioPenalty: penalty),
                                            offsets: offsets, advantages: advantages, counted: mask == nil ? nil : counted,
                                            keepPolicy: terms.keepPolicy, vespoWeight: terms.vespoWeight, config: config,
                                            hasReference: hasReference, threshold: threshold, grad: grad, sink: sink)
                                      }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Some input was inf or NaN: find the first one and name it, as `validate` does.
        if !inputsFinite || sums.inputProbe != 0 { try batch.validateTokenValues() }

        let policyLoss = sums.loss
        func weights(_ aggregation: GRPOConfig.Aggregation) -> [Double] {
            let scale = LossKernel.batchScale(completions: completions.count, countedTokens: countedTokens, aggregation, config)
            return counted.map { LossKernel.rowScale(counted: $0, aggregation, config.countDivisor) * scale }
        }
        let bonus = entropyBonus(sums, config: config)
        var breakdown = Breakdown(
            config: config, groupSize: batch.groupSize, groupSizes: batch.groups.map(\.completions.count),
            groupMean: means, groupStd: stds, advantages: advantages,
            ratio: Ragged(values: ratio, offsets: offsets),
            kl: hasReference ? Ragged(values: kl, offsets: offsets) : nil,
            lossMask: mask.map { Ragged(values: $0.map { $0 != 0 }, offsets: offsets) },
            offPolicyMask: terms.keepPolicy, entropyMask: threshold == nil ? nil : Ragged(values: keep, offsets: offsets),
            samplerWeight: terms.samplerWeights.map { Ragged(values: $0, offsets: offsets) },
            vespoWeight: terms.vespoWeight,
            perTokenLoss: Ragged(values: perTokenLoss, offsets: offsets),
            weight: weights(config.policyAggregation),
            regularizerWeight: config.policyAggregation == config.aggregation ? nil : weights(config.aggregation),
            gradLogp: Ragged(values: grad, offsets: offsets),
            policyLoss: policyLoss, entropyBonus: bonus, loss: policyLoss - bonus.map(\.value).orZero,
            metrics: Metrics())
        breakdown.metrics = metrics(sums, breakdown: breakdown, tokens: countedTokens, hasEntropy: hasEntropy)
        if let weights = terms.samplerWeights, batch.usesSamplerCorrection(config), !batch.hasPolicyWeight {
            withOptional(mask) { maskBuffer in
                offsets.withUnsafeBufferPointer { offsetBuffer in
                    samplingMetrics(CompletionRows(completions: completions, useReference: false, useEntropy: false,
                                                   samplerWeight: nil, lossMask: maskBuffer, offsets: offsetBuffer),
                                    offsets: offsets, weights: weights, into: &breakdown.metrics, config: config)
                }
            }
        }
        return breakdown
    }

    /// The per-row terms the kernel needs before it starts: the sampler weights (and which of them
    /// multiply the policy term), the off-policy mask and VESPO's phi.
    struct RowTermsOfBatch {
        var samplerWeights: [Double]? = nil
        var multiplyingWeights: [Double]? = nil
        var keepPolicy: [Bool]? = nil
        var vespoWeight: [Double]? = nil
    }

    /// `given`: the policy weights a trainer computed (`Completion.policyWeight`), flat, used in
    /// place of the sampler correction's.
    static func rowTerms<Source: RowSource>(_ source: Source, offsets: [Int], advantages: [Double], uses sampler: Bool,
                                            given: [Double]?, config: GRPOConfig) -> RowTermsOfBatch {
        var terms = RowTermsOfBatch()
        if let given {
            terms.samplerWeights = given
        } else if sampler {
            terms.samplerWeights = samplerWeights(source, offsets: offsets, config: config)
        }
        if !config.objective.foldsSamplerWeight { terms.multiplyingWeights = terms.samplerWeights }
        if let limit = config.offPolicyMaskThreshold {
            terms.keepPolicy = offPolicyKeep(source, advantages: advantages, threshold: limit)
        }
        switch config.objective {
        case .vespo:
            terms.vespoWeight = vespoWeights(source, advantages: advantages, samplerWeights: terms.samplerWeights,
                                             offsets: offsets, config: config)
        case .clipMin, .cispo, .sapo, .reinforce, .dro, .dppoTV, .dppoKL, .geoMean, .unclipped:
            break
        }
        return terms
    }

    /// The entropy bonus from the kernel's sums; nil when entropy_coef is 0.
    static func entropyBonus(_ sums: KernelSums, config: GRPOConfig) -> EntropyBonus? {
        guard config.entropyCoef != 0 else { return nil }
        switch config.entropyAggregation {
        case .actingTokenMean:
            return EntropyBonus(coefficient: config.entropyCoef, entropy: sums.actingEntropy / Swift.max(sums.actingTokens, 1),
                                tokens: Int(sums.actingTokens))
        case .lossAggregation:
            // Each row's entropy sum came in times the row's weight: the aggregate itself.
            return EntropyBonus(coefficient: config.entropyCoef, entropy: sums.actingEntropy, tokens: Int(sums.actingTokens))
        }
    }

    /// The logged metrics from the kernel's sums (`Metrics` names them).
    static func metrics(_ sums: KernelSums, breakdown b: Breakdown, tokens: Int, hasEntropy: Bool) -> Metrics {
        let config = b.config
        var m = Metrics()
        let units = Swift.max(sums.clipUnits, 1)
        switch config.objective {
        case .clipMin:
            m.clipRatioLow = sums.clipLow / units
            m.clipRatioHigh = sums.clipHigh / units
            m.clipRatioRegion = (sums.clipLow + sums.clipHigh) / units
            m.clipRatioLowMin = sums.lowMin ?? .nan
            m.clipRatioHighMax = sums.highMax ?? .nan
        case .cispo:
            m.cispoClipRatio = sums.clipHigh / units
        case .vespo:
            m.vespoPhiSeqMean = (b.vespoWeight ?? []).reduce(0, +) / Double(Swift.max(b.advantages.count, 1))
        case .sapo, .reinforce, .dro, .dppoTV, .dppoKL, .geoMean, .unclipped:
            break
        }
        let counted = Double(Swift.max(tokens, 1))
        if b.kl != nil { m.kl = sums.kl / counted }
        if hasEntropy { m.entropy = sums.entropy / counted }
        if !b.groupStd.isEmpty {
            m.fracRewardZeroStd = Double(b.groupStd.filter(TorchRules.isZeroStd).count) / Double(b.groupStd.count)
        }
        if config.hasEntropyBonus {
            m.policyLoss = b.policyLoss
            m.entropyCoef = config.entropyCoef
        }
        return m
    }

    /// Batches with fewer tokens than this run on one thread: below it, waking a second thread
    /// costs about what it saves. Measured on 2 cores (best of many runs, beta 0.04): 512 x 1024
    /// tokens 3.6 ms on one thread, 1.9 ms on two; 32 x 512 (12k tokens) 121 us vs 91 us;
    /// 16 x 512 (6k tokens) 60 us vs 54 us.
    static let parallelThreshold = 1 << 13

    /// An array of `n` elements that `fill` writes every one of.
    private static func written<T>(_ n: Int, _ fill: (UnsafeMutableBufferPointer<T>) -> Void) -> [T] {
        [T](unsafeUninitializedCapacity: n) { buffer, count in
            fill(buffer)
            count = n
        }
    }

    private static func withFlatRows<R>(_ flat: FlatBatch, samplerWeight: [Double]?, lossMask: UnsafeBufferPointer<Double>?,
                                        _ body: (FlatRows) -> R) -> R {
        flat.logp.withUnsafeBufferPointer { logp in
            flat.oldLogp.withUnsafeBufferPointer { old in
                withOptional(flat.hasReference ? flat.refLogp : nil) { ref in
                    withOptional(flat.hasEntropy ? flat.entropy : nil) { entropy in
                        withOptional(samplerWeight) { weights in
                            withOptional(flat.hasSampler ? flat.samplerLogp : nil) { sampler in
                                flat.offsets.withUnsafeBufferPointer { offsets in
                                    withOptional(flat.logRatioPenalty.isEmpty ? nil : flat.logRatioPenalty) { penalty in
                                        body(FlatRows(logp: logp, oldLogp: old, refLogp: ref, entropy: entropy,
                                                      samplerWeight: weights, lossMask: lossMask, samplerLogp: sampler,
                                                      offsets: offsets, logRatioPenalty: penalty))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Runs the kernel over all rows: on one thread for small batches, otherwise in contiguous
    /// row ranges of about equal token counts, one per core, whose sums are added in order.
    private static func run<Source: RowSource & Sendable, Sink: KernelSink & Sendable>(
        _ source: Source, offsets: [Int], advantages: [Double], counted: [Int]?, keepPolicy: [Bool]?,
        vespoWeight: [Double]?, config: GRPOConfig, hasReference: Bool,
        threshold: Double?, grad: UnsafeMutableBufferPointer<Double>, sink: Sink
    ) -> KernelSums {
        offsets.withUnsafeBufferPointer { offsetBuffer in
            advantages.withUnsafeBufferPointer { adv in
                withOptional(counted) { counted in
                    withOptional(keepPolicy) { keepPolicy in
                        withOptional(vespoWeight) { vespo in
                            let facts = RowFacts(advantages: adv, counted: counted, keepPolicy: keepPolicy, vespoWeight: vespo)
                            let kernel = LossKernel(grad: grad, offsets: offsetBuffer, facts: facts, config: config,
                                                    hasReference: hasReference, entropyThreshold: threshold,
                                                    countedTokens: counted.map { $0.reduce(0, +) } ?? offsets[offsets.count - 1])
                            let ranges = rowRanges(offsets)
                            if ranges.count == 1 { return kernel.run(rows: ranges[0], source: source, sink: sink) }
                            var partial = [KernelSums](repeating: KernelSums(), count: ranges.count)
                            partial.withUnsafeMutableBufferPointer { partial in
                                let slots = DisjointSlots(buffer: partial)
                                DispatchQueue.concurrentPerform(iterations: ranges.count) { k in
                                    slots.buffer[k] = kernel.run(rows: ranges[k], source: source, sink: sink)
                                }
                            }
                            return partial.reduce(KernelSums(), +)
                        }
                    }
                }
            }
        }
    }

    /// Splits the rows into one contiguous range per core with about the same number of tokens.
    static func rowRanges(_ offsets: [Int]) -> [Range<Int>] {
        let b = offsets.count - 1, tokens = offsets[b]
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        guard tokens >= parallelThreshold, cores > 1, b > 1 else { return [0..<b] }
        let parts = min(cores, b)
        var ranges: [Range<Int>] = []
        var start = 0
        for k in 1...parts {
            let target = tokens * k / parts
            var end = start
            while end < b && (offsets[end + 1] <= target || end == start) { end += 1 }
            if k == parts { end = b }
            if end > start { ranges.append(start..<end) }
            start = end
        }
        return ranges
    }
}

extension Optional where Wrapped == Double {
    /// The value, or 0 when there is none.
    var orZero: Double { self ?? 0 }
}

/// Each parallel range writes only its own slot.
private struct DisjointSlots: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<KernelSums>
}
