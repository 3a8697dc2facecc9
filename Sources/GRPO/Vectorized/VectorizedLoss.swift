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
            run(flat, advantages: advantages, config: config, threshold: threshold, samplerWeight: weights,
                grad: grad, sink: GradientOnly())
        }
        return sums.loss * batchScale(flat, config)
    }

    /// Every intermediate quantity, computed in the same fused pass.
    public static func breakdown(_ batch: Batch, config: GRPOConfig) throws(BatchError) -> Breakdown {
        try batch.validate(for: config)
        let flat = FlatBatch(batch)
        let n = flat.tokenCount
        let (advantages, means, stds) = Vectorized.advantages(rewards: flat.rewards, groupSize: flat.groupSize, config: config)
        let threshold = config.topEntropyQuantile < 1 ? entropyThreshold(flat.entropy, topQuantile: config.topEntropyQuantile) : nil
        let weights = batch.usesSamplerCorrection(config) ? samplerWeights(flat, config: config) : nil

        // Every output is written exactly once by the kernel, so none is filled with zeros first.
        var sums = KernelSums()
        var ratio: [Double] = [], clipped: [Double] = [], branch: [ClipBranch] = [], kl: [Double] = []
        var keep: [Bool] = [], perTokenLoss: [Double] = [], weight: [Double] = []
        let grad: [Double] = written(n) { grad in
            ratio = written(n) { ratio in
                clipped = written(n) { clipped in
                    branch = written(n) { branch in
                        kl = written(n) { kl in
                            keep = written(n) { keep in
                                perTokenLoss = written(n) { perTokenLoss in
                                    weight = written(n) { weight in
                                        sums = run(flat, advantages: advantages, config: config, threshold: threshold,
                                                   samplerWeight: weights, grad: grad, sink: EveryQuantity(
                                                       ratio: ratio, clippedRatio: clipped, branch: branch, kl: kl,
                                                       keep: keep, perTokenLoss: perTokenLoss, weight: weight))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let offsets = flat.offsets
        let tokens = Double(max(n, 1))
        let metrics = Metrics(
            clipRatioLow: sums.clipLow / max(sums.clipUnits, 1),
            clipRatioHigh: sums.clipHigh / max(sums.clipUnits, 1),
            clipRatioRegion: sums.clipRegion / max(sums.clipUnits, 1),
            kl: flat.hasReference ? sums.kl / tokens : nil,
            fracRewardZeroStd: Double(stds.filter(Naive.isZeroStd).count) / Double(stds.count),
            entropy: flat.hasEntropy ? sums.entropy / tokens : nil)
        return Breakdown(
            config: config, groupMean: means, groupStd: stds, advantages: advantages,
            ratio: Ragged(values: ratio, offsets: offsets),
            clippedRatio: Ragged(values: clipped, offsets: offsets),
            branch: Ragged(values: branch, offsets: offsets),
            kl: flat.hasReference ? Ragged(values: kl, offsets: offsets) : nil,
            entropyMask: threshold == nil ? nil : Ragged(values: keep, offsets: offsets),
            samplerWeight: weights.map { Ragged(values: $0, offsets: offsets) },
            perTokenLoss: Ragged(values: perTokenLoss, offsets: offsets),
            weight: Ragged(values: weight, offsets: offsets),
            gradLogp: Ragged(values: grad, offsets: offsets),
            loss: sums.loss * batchScale(flat, config), metrics: metrics)
    }

    private static func batchScale(_ flat: FlatBatch, _ config: GRPOConfig) -> Double {
        switch config.lossType {
        case .grpo: 1 / Double(flat.completionCount)
        case .bnpo, .dapo: 1 / Double(max(flat.tokenCount, 1))
        case .drGRPO: 1 / (Double(flat.completionCount) * Double(config.maxCompletionLength))
        }
    }

    /// Batches with fewer tokens than this run on one thread.
    static let parallelThreshold = 1 << 15

    /// An array of `n` elements that `fill` writes every one of.
    private static func written<T>(_ n: Int, _ fill: (UnsafeMutableBufferPointer<T>) -> Void) -> [T] {
        [T](unsafeUninitializedCapacity: n) { buffer, count in
            fill(buffer)
            count = n
        }
    }

    /// Runs the kernel over all rows: on one thread for small batches, otherwise in contiguous
    /// row ranges of about equal token counts, one per core, whose sums are added in order.
    private static func run<Sink: KernelSink>(_ flat: FlatBatch, advantages: [Double], config: GRPOConfig, threshold: Double?,
                                              samplerWeight: [Double]?, grad: UnsafeMutableBufferPointer<Double>,
                                              sink: Sink) -> KernelSums {
        let weighted = samplerWeight != nil
        let samplerWeight = samplerWeight ?? []
        return flat.logp.withUnsafeBufferPointer { logp in
            flat.oldLogp.withUnsafeBufferPointer { old in
                flat.refLogp.withUnsafeBufferPointer { ref in
                    flat.entropy.withUnsafeBufferPointer { entropy in
                        flat.offsets.withUnsafeBufferPointer { offsets in
                            advantages.withUnsafeBufferPointer { adv in samplerWeight.withUnsafeBufferPointer { weights in
                                let kernel = LossKernel(
                                    inputs: KernelInputs(
                                        logp: logp, oldLogp: old,
                                        refLogp: flat.hasReference ? ref : nil,
                                        entropy: flat.hasEntropy ? entropy : nil,
                                        samplerWeight: weighted ? weights : nil,
                                        offsets: offsets, advantages: adv),
                                    grad: grad, config: config, hasReference: flat.hasReference,
                                    entropyThreshold: threshold, completionCount: flat.completionCount,
                                    tokenCount: flat.tokenCount)
                                let ranges = rowRanges(flat)
                                if ranges.count == 1 { return kernel.run(rows: ranges[0], sink: sink) }
                                var partial = [KernelSums](repeating: KernelSums(), count: ranges.count)
                                partial.withUnsafeMutableBufferPointer { partial in
                                    let slots = DisjointSlots(buffer: partial)
                                    let task = ParallelTask(kernel: kernel, sink: sink)
                                    DispatchQueue.concurrentPerform(iterations: ranges.count) { k in
                                        slots.buffer[k] = task.kernel.run(rows: ranges[k], sink: task.sink)
                                    }
                                }
                                return partial.reduce(KernelSums(), +)
                            } }
                        }
                    }
                }
            }
        }
    }

    /// Splits the rows into one contiguous range per core with about the same number of tokens.
    static func rowRanges(_ flat: FlatBatch) -> [Range<Int>] {
        let b = flat.completionCount
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        guard flat.tokenCount >= parallelThreshold, cores > 1, b > 1 else { return [0..<b] }
        let parts = min(cores, b)
        var ranges: [Range<Int>] = []
        var start = 0
        for k in 1...parts {
            let target = flat.tokenCount * k / parts
            var end = start
            while end < b && (flat.offsets[end + 1] <= target || end == start) { end += 1 }
            if k == parts { end = b }
            if end > start { ranges.append(start..<end) }
            start = end
        }
        return ranges
    }
}

/// Each parallel range writes only its own rows of the output buffers and its own slot of the
/// sums, so sharing the kernel, the sink and the slots between threads is safe.
private struct ParallelTask<Sink: KernelSink>: @unchecked Sendable {
    let kernel: LossKernel
    let sink: Sink
}

private struct DisjointSlots: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<KernelSums>
}
