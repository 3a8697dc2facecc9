import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Vectorized {
    /// Loss and d loss / d logp only: what a training step needs. `gradient` is resized to the
    /// batch's token count. `advantages` has one value per completion. The batch must be valid
    /// (`Batch.validate(for:)`); this is the hot path and checks nothing.
    public static func lossAndGradient(_ flat: FlatBatch, advantages: [Double], config: GRPOConfig,
                                       gradient: inout [Double]) -> Double {
        if gradient.count != flat.tokenCount {
            gradient = [Double](repeating: 0, count: flat.tokenCount)
        }
        let threshold = config.topEntropyQuantile < 1 ? entropyThreshold(flat.entropy, topQuantile: config.topEntropyQuantile) : nil
        let weights = flat.hasSampler && config.vllmImportanceSamplingCorrection ? samplerWeights(flat, config: config) : nil
        let sums = gradient.withUnsafeMutableBufferPointer { grad in
            withFlatRows(flat, samplerWeight: weights) { rows in
                run(rows, offsets: flat.offsets, advantages: advantages, config: config, hasReference: flat.hasReference,
                    threshold: threshold, grad: grad, sink: GradientOnly())
            }
        }
        return sums.loss * LossKernel.batchScale(completions: flat.completionCount, tokens: flat.tokenCount, config)
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
        do { try batch.validateTokenValues(hasEntropy ? [.samplerLogp] : [.samplerLogp, .entropy]) } catch { inputsFinite = false }
        let completions = batch.completions
        var offsets = [0]
        offsets.reserveCapacity(completions.count + 1)
        for c in completions { offsets.append(offsets[offsets.count - 1] + c.length) }
        let n = offsets[completions.count]
        let (advantages, means, stds) = batch.hasGivenAdvantages
            ? (completions.map { $0.advantage! }, [], [])
            : Vectorized.advantages(rewards: completions.map(\.reward), groupSize: batch.groupSize, config: config)
        let threshold = config.topEntropyQuantile < 1
            ? entropyThreshold(completions.flatMap { $0.entropy! }, topQuantile: config.topEntropyQuantile) : nil
        let weights = batch.usesSamplerCorrection(config) ? samplerWeights(completions, offsets: offsets, config: config) : nil

        // Every output is written exactly once by the kernel, so none is filled with zeros first.
        // The KL and the entropy mask are only kept (and so only written) when they exist.
        var sums = KernelSums()
        var ratio: [Double] = [], kl: [Double] = [], keep: [Bool] = [], perTokenLoss: [Double] = []
        let grad: [Double] = written(n) { grad in
            ratio = written(n) { ratio in
                kl = written(hasReference ? n : 0) { kl in
                    keep = written(threshold == nil ? 0 : n) { keep in
                        perTokenLoss = written(n) { perTokenLoss in
                            let sink = EveryQuantity(ratio: ratio, kl: hasReference ? kl : nil,
                                                     keep: threshold == nil ? nil : keep, perTokenLoss: perTokenLoss)
                            sums = withOptional(weights) { weights in
                                offsets.withUnsafeBufferPointer { offsetBuffer in
                                    run(CompletionRows(completions: completions, useReference: hasReference,
                                                       useEntropy: hasEntropy, samplerWeight: weights,
                                                       offsets: offsetBuffer),
                                        offsets: offsets, advantages: advantages, config: config,
                                        hasReference: hasReference, threshold: threshold, grad: grad, sink: sink)
                                }
                            }
                        }
                    }
                }
            }
        }
        // Some input was inf or NaN: find the first one and name it, as `validate` does.
        if !inputsFinite || sums.inputProbe != 0 { try batch.validateTokenValues() }

        let tokens = Double(max(n, 1))
        let metrics = Metrics(
            clipRatioLow: sums.clipLow / max(sums.clipUnits, 1),
            clipRatioHigh: sums.clipHigh / max(sums.clipUnits, 1),
            clipRatioRegion: sums.clipRegion / max(sums.clipUnits, 1),
            kl: hasReference ? sums.kl / tokens : nil,
            fracRewardZeroStd: stds.isEmpty ? nil : Double(stds.filter(Naive.isZeroStd).count) / Double(stds.count),
            entropy: hasEntropy ? sums.entropy / tokens : nil)
        let scale = LossKernel.batchScale(completions: completions.count, tokens: n, config)
        return Breakdown(
            config: config, groupSize: batch.groupSize, groupMean: means, groupStd: stds, advantages: advantages,
            ratio: Ragged(values: ratio, offsets: offsets),
            kl: hasReference ? Ragged(values: kl, offsets: offsets) : nil,
            entropyMask: threshold == nil ? nil : Ragged(values: keep, offsets: offsets),
            samplerWeight: weights.map { Ragged(values: $0, offsets: offsets) },
            perTokenLoss: Ragged(values: perTokenLoss, offsets: offsets),
            weight: completions.map { LossKernel.rowScale(length: $0.length, config.lossType) * scale },
            gradLogp: Ragged(values: grad, offsets: offsets),
            loss: sums.loss * scale, metrics: metrics)
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

    private static func withFlatRows<R>(_ flat: FlatBatch, samplerWeight: [Double]?, _ body: (FlatRows) -> R) -> R {
        flat.logp.withUnsafeBufferPointer { logp in
            flat.oldLogp.withUnsafeBufferPointer { old in
                withOptional(flat.hasReference ? flat.refLogp : nil) { ref in
                    withOptional(flat.hasEntropy ? flat.entropy : nil) { entropy in
                        withOptional(samplerWeight) { weights in
                            flat.offsets.withUnsafeBufferPointer { offsets in
                                body(FlatRows(logp: logp, oldLogp: old, refLogp: ref, entropy: entropy,
                                              samplerWeight: weights, offsets: offsets))
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
        _ source: Source, offsets: [Int], advantages: [Double], config: GRPOConfig, hasReference: Bool,
        threshold: Double?, grad: UnsafeMutableBufferPointer<Double>, sink: Sink
    ) -> KernelSums {
        offsets.withUnsafeBufferPointer { offsetBuffer in
            advantages.withUnsafeBufferPointer { adv in
                let kernel = LossKernel(grad: grad, offsets: offsetBuffer, advantages: adv, config: config,
                                        hasReference: hasReference, entropyThreshold: threshold)
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

/// Each parallel range writes only its own slot.
private struct DisjointSlots: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<KernelSums>
}
