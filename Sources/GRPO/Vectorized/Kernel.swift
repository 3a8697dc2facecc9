#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A note on `@_transparent`: the hot helpers below (and in VectorMath.swift) are marked
// `@_transparent`, which inlines them before optimization, as the standard library does for its
// own SIMD operations. `@inline(__always)` is only a request: the SIMD selects expand to many
// basic blocks, the optimizer then finds the caller too big and leaves calls in the token loop,
// which costs about 15%. Being inlined changes no result: the arithmetic is the same.

/// One completion's per-token inputs, wherever they are stored (a `FlatBatch`, or the arrays of
/// a `Batch`'s completions). `count` tokens; the optional ones are nil when not used.
struct RowInputs {
    var count: Int
    var logp: UnsafeBufferPointer<Double>
    var oldLogp: UnsafeBufferPointer<Double>
    /// nil without reference log-probabilities.
    var refLogp: UnsafeBufferPointer<Double>?
    /// nil without entropies (they feed the entropy mask and the entropy metric).
    var entropy: UnsafeBufferPointer<Double>?
    /// nil unless the sampler/trainer correction is on.
    var samplerWeight: UnsafeBufferPointer<Double>?
}

/// Gives the kernel one row at a time. Generic, so each source compiles to its own loop.
protocol RowSource {
    func withRow<R>(_ i: Int, _ body: (RowInputs) -> R) -> R
}

/// Sums one range of rows contributes; added up across ranges when rows run in parallel.
/// Loss + gradient keeps only `loss`; the rest are the breakdown's metrics.
struct KernelSums {
    /// sum over rows of rowScale * sum_t L_t (times batchScale, this is the loss)
    var loss = 0.0
    var clipLow = 0.0, clipHigh = 0.0, clipRegion = 0.0
    /// tokens (token level) or completions (sequence level) the clip fractions count
    var clipUnits = 0.0
    var kl = 0.0
    var entropy = 0.0
    /// Breakdown only: the sum of x - x over every input value read, so exactly 0 when all of
    /// them are finite and NaN after any inf or NaN. The breakdown checks its inputs this way,
    /// as it reads them, instead of in a pass of its own.
    var inputProbe = 0.0

    static func + (x: KernelSums, y: KernelSums) -> KernelSums {
        KernelSums(loss: x.loss + y.loss, clipLow: x.clipLow + y.clipLow, clipHigh: x.clipHigh + y.clipHigh,
                   clipRegion: x.clipRegion + y.clipRegion, clipUnits: x.clipUnits + y.clipUnits,
                   kl: x.kl + y.kl, entropy: x.entropy + y.entropy, inputProbe: x.inputProbe + y.inputProbe)
    }
}

/// Four consecutive tokens of one row as the kernel finished them (fewer at a row's end).
struct Chunk {
    /// Flat index of the first token, and how many of the four lanes are tokens.
    var start: Int
    var count: Int
    /// coef_1 (the row's s for GSPO), per_token_loss, per_token_kl (0 without ref_logp).
    var ratio: Lanes
    var loss: Lanes
    var kl: Lanes
    /// The entropy mask (all true when it is off).
    var keep: LaneMask
}

/// Where the per-token quantities go besides the gradient. Loss + gradient uses `GradientOnly`,
/// which stores nothing; the breakdown uses `EveryQuantity`. The kernel is generic over the sink,
/// so each use compiles to its own loop with no per-token test of what to store.
protocol KernelSink {
    /// True for the breakdown: the KL is computed (for its values and metric) even when it does
    /// not enter the loss, and the clip, KL and entropy metrics are summed.
    static var recordsEverything: Bool { get }
    /// Stores one finished chunk.
    func store(_ chunk: Chunk)
}

/// Loss + gradient: nothing to store.
struct GradientOnly: KernelSink {
    static var recordsEverything: Bool { false }
    @_transparent
    func store(_ chunk: Chunk) {}
}

/// The full breakdown: every per-token quantity, each array written once. (The clipped ratio
/// and the branch of the min are functions of the ratio and the advantage, and the weight is one
/// per row, so none of them is stored per token.)
struct EveryQuantity: KernelSink {
    var ratio: UnsafeMutableBufferPointer<Double>
    /// nil without reference log-probabilities, and without the entropy mask.
    var kl: UnsafeMutableBufferPointer<Double>?
    var keep: UnsafeMutableBufferPointer<Bool>?
    var perTokenLoss: UnsafeMutableBufferPointer<Double>

    static var recordsEverything: Bool { true }

    @_transparent
    func store(_ c: Chunk) {
        c.ratio.store(to: ratio.baseAddress.unsafelyUnwrapped, c.start, count: c.count)
        if let kl { c.kl.store(to: kl.baseAddress.unsafelyUnwrapped, c.start, count: c.count) }
        c.loss.store(to: perTokenLoss.baseAddress.unsafelyUnwrapped, c.start, count: c.count)
        if let keep { for l in 0..<c.count { keep[c.start + l] = c.keep[l] } }
    }
}

/// The fused per-token pass: everything from `log_ratio` to d loss / d logp, row by row, four
/// tokens at a time in SIMD lanes. The math is that of `Naive.breakdown`; the gradient is the
/// chain rule written out:
///
///     d L_t / d logp_t = -(dmin/d c1) A dc1 - (dmin/d c2) A dc2      (policy term, 0 if masked)
///                        + beta * d KL_t / d logp_t                  (KL term)
///     dc1 = r if r <= delta else 0;  dc2 = r if 1-eps <= r <= 1+eps_high else 0  (r = d r / d logp)
///     d k1 = 1,  d k2 = -d,  d k3 = -expm1(d)     with d = ref_logp - logp
///     bias correction: d (k r) = dk r + k r
///
/// `dmin` sends the gradient to the smaller term, half to each on a tie (torch.minimum).
///
/// Each row is cut into blocks of 64 tokens, and each block into chunks of four tokens (one SIMD
/// vector). The lines of TRL's `_compute_loss` run in order, each one SIMD statement (selects,
/// no branches); the batch is read once and the gradient written once:
///
///     log_ratio = logp - old_logp;  coef_1 = exp(log_ratio)     tokenBlock, 1st loop (VectorMath)
///     per_token_kl's exp(ref - logp) - 1                        tokenBlock, 2nd loop, k3 only
///     coef_2 = clamp(coef_1, 1 - eps, 1 + eps_high)             tokenChunk -> clip
///     per_token_loss = -min(coef_1 A, coef_2 A)                 tokenChunk -> policyTerm
///     per_token_loss *= entropy_mask                            only with top_entropy_quantile < 1
///     per_token_loss *= importance_sampling_ratio               only with sampler log-probs
///     per_token_kl = exp(ref - logp) - (ref - logp) - 1         tokenChunk -> klTerm
///     per_token_loss += beta * per_token_kl
///     loss_type reduction: grad = w * d per_token_loss / d logp, and the row's sum of losses
///
/// The exps come first for the whole block because they are most of the work: in a loop of
/// their own the chunks are independent and the CPU overlaps them. The options are fixed for
/// the whole batch, so their tests are perfectly predicted branches. GSPO (`sequenceChunk`) has
/// one ratio per row and follows the same lines.
struct LossKernel {
    let grad: UnsafeMutableBufferPointer<Double>
    /// Where each row's tokens go in the flat outputs (B + 1 offsets), and its advantage.
    let offsets: UnsafeBufferPointer<Int>
    let advantages: UnsafeBufferPointer<Double>
    let lowerBound: Double   // 1 - epsilon
    let upperBound: Double   // 1 + epsilon_high
    let delta: Double        // +inf when two-sided clipping is off
    /// `clip_ratio/high_mean` counts ratios above this: 1 + epsilon_high, or +inf when delta caps
    /// the ratio at or below it (TRL tests the capped ratio).
    let highClipBound: Double
    let beta: Double
    let addKL: Bool          // ref given and beta != 0
    let biasCorrection: Bool
    let estimator: GRPOConfig.KLEstimator
    let sequenceLevel: Bool
    let entropyThreshold: Double?
    let lossType: GRPOConfig.LossType
    let batchScale: Double   // 1/B (grpo), 1/N (bnpo, dapo), 1/(B L) (dr_grpo)

    init(grad: UnsafeMutableBufferPointer<Double>, offsets: UnsafeBufferPointer<Int>,
         advantages: UnsafeBufferPointer<Double>, config: GRPOConfig, hasReference: Bool,
         entropyThreshold: Double?) {
        self.grad = grad
        self.offsets = offsets
        self.advantages = advantages
        lowerBound = 1 - config.epsilon
        upperBound = 1 + config.resolvedEpsilonHigh
        delta = config.delta ?? .infinity
        highClipBound = delta > upperBound ? upperBound : .infinity
        beta = config.beta
        addKL = hasReference && config.beta != 0
        biasCorrection = config.useBiasCorrectionKL
        estimator = config.klEstimator
        sequenceLevel = config.importanceSamplingLevel == .sequence
        // Entropies are compared in float32 (`Naive.entropyMask`): as doubles, against the cut.
        self.entropyThreshold = entropyThreshold.map(Naive.float32Cut)
        lossType = config.lossType
        let completionCount = offsets.count - 1
        batchScale = Self.batchScale(completions: completionCount, tokens: offsets[completionCount], config)
    }

    /// 1/B (grpo), 1/N (bnpo, dapo), 1/(B L) (dr_grpo): the factor `KernelSums.loss` is missing.
    static func batchScale(completions: Int, tokens: Int, _ config: GRPOConfig) -> Double {
        switch config.lossType {
        case .grpo: 1 / Double(completions)
        case .bnpo, .dapo: 1 / Double(Swift.max(tokens, 1))
        case .drGRPO: 1 / (Double(completions) * Double(config.maxCompletionLength))
        }
    }

    // MARK: The per-token math

    /// coef_2 = clamp(coef_1, 1 - epsilon, 1 + epsilon_high)
    @_transparent
    func clip(_ r: Lanes) -> Lanes {
        Lanes.minimum(Lanes.maximum(r, Lanes(repeating: lowerBound)), Lanes(repeating: upperBound))
    }

    /// The policy term -min(c1 A, c2 A) at ratios r, and its derivative with respect to r.
    /// With A = 0 both terms are 0 whatever the ratio, even one that overflowed to inf (where
    /// inf * 0 would be NaN), as in `Naive.clippedSurrogate`.
    @_transparent
    func policyTerm(ratio r: Lanes, advantage a: Double) -> (loss: Lanes, dRatio: Lanes) {
        let zero = Lanes(repeating: 0), one = Lanes(repeating: 1)
        if a == 0 { return (zero, zero) }
        let c1 = Lanes.minimum(r, Lanes(repeating: delta))  // coef_1, capped at delta
        let c2 = clip(r)                                     // coef_2
        let unclipped = c1 * a, clipped = c2 * a
        let dc1 = zero.replacing(with: one, where: r .<= delta)
        let dc2 = zero.replacing(with: one, where: (r .>= lowerBound) .& (r .<= upperBound))
        // torch.minimum's gradient: to the smaller term, half to each on a tie.
        var dMin = 0.5 * (dc1 + dc2)
        dMin.replace(with: dc2, where: clipped .< unclipped)
        dMin.replace(with: dc1, where: unclipped .< clipped)
        return (-Lanes.minimum(unclipped, clipped), -a * dMin)
    }

    /// The per-token KL estimate and its derivative with respect to logp, d = ref_logp - logp.
    /// `expm1OfD` is expm1(d), which only k3 needs (the token pass computes it ahead).
    @_transparent
    func klTerm(d: Lanes, expm1OfD: @autoclosure () -> Lanes) -> (kl: Lanes, dLogp: Lanes) {
        switch estimator {
        case .k1: return (-d, Lanes(repeating: 1))
        case .k2: return (d * d * 0.5, -d)
        case .k3:
            let e = expm1OfD()
            return (e - d, -e)
        }
    }

    /// Row scale: 1/|o_i| for grpo (the per-sequence token mean), 1 otherwise.
    @_transparent
    static func rowScale(length n: Int, _ lossType: GRPOConfig.LossType) -> Double {
        lossType == .grpo ? 1 / Double(Swift.max(n, 1)) : 1
    }

    // MARK: Rows

    /// What the kernel carries along one row.
    struct Row {
        let inputs: RowInputs
        /// Flat index of the row's first token (in the outputs).
        let start: Int
        let advantage: Double
        /// 1/|o_i| (grpo) or 1, and the token weight w = scale * batchScale.
        let scale: Double, weight: Double
        /// sum_t L_t so far, one partial sum per lane (added in a fixed order at the end).
        var lossSum = Lanes(repeating: 0)
        /// Breakdown only: clip counts, KL and entropy sums, and the input probe, per lane.
        var clipLow = Lanes(repeating: 0), clipHigh = Lanes(repeating: 0)
        var klSum = Lanes(repeating: 0), entropySum = Lanes(repeating: 0), probe = Lanes(repeating: 0)
        // GSPO only: the row's ratio s, its policy term, and sum_t d L_t / d s so far.
        var s = 1.0, logS = 0.0, policyLoss = 0.0, dPolicy = 0.0
        var throughRatio = Lanes(repeating: 0)
    }

    /// Tokens per block of the token pass (a multiple of the lane count).
    static let blockSize = 64

    /// Runs the rows in `rows` (a whole range; ranges can run in parallel).
    func run<Source: RowSource, Sink: KernelSink>(rows: Range<Int>, source: Source, sink: Sink) -> KernelSums {
        let chunksPerBlock = Self.blockSize / Lanes.scalarCount
        return withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 2 * chunksPerBlock) { scratch in
            scratch.initialize(repeating: Lanes(repeating: 0))
            let block = Block(ratio: UnsafeMutableBufferPointer(rebasing: scratch[0..<chunksPerBlock]),
                              expm1: UnsafeMutableBufferPointer(rebasing: scratch[chunksPerBlock...]))
            var sums = KernelSums()
            for i in rows {
                source.withRow(i) { inputs in
                    let n = inputs.count
                    let scale = Self.rowScale(length: n, lossType)
                    var row = Row(inputs: inputs, start: offsets[i], advantage: advantages[i], scale: scale,
                                  weight: scale * batchScale)
                    if sequenceLevel {
                        sequenceRatio(&row)
                        for t in stride(from: 0, to: n, by: Lanes.scalarCount) {
                            sequenceChunk(at: t, count: Swift.min(Lanes.scalarCount, n - t), &row, sink)
                        }
                        finishSequenceRow(row, &sums)
                    } else {
                        for start in stride(from: 0, to: n, by: Self.blockSize) {
                            tokenBlock(start..<Swift.min(n, start + Self.blockSize), block, &row, sink)
                        }
                        if Sink.recordsEverything {
                            sums.clipLow += row.clipLow.laneSum
                            sums.clipHigh += row.clipHigh.laneSum
                            sums.clipRegion += row.clipLow.laneSum + row.clipHigh.laneSum
                            sums.clipUnits += Double(n)
                        }
                    }
                    sums.loss += row.lossSum.laneSum * scale
                    if Sink.recordsEverything {
                        sums.kl += row.klSum.laneSum
                        sums.entropy += row.entropySum.laneSum
                        sums.inputProbe += row.probe.laneSum
                    }
                }
            }
            return sums
        }
    }

    /// Scratch for one block: its ratios and expm1(ref - logp), one entry per chunk of four tokens.
    struct Block {
        let ratio: UnsafeMutableBufferPointer<Lanes>
        let expm1: UnsafeMutableBufferPointer<Lanes>
    }

    /// Token level, one block of a row. The two exps of every token of the block come first, each
    /// in its own short loop: consecutive chunks are independent there, so the CPU overlaps
    /// several of them (in one long loop body, each chunk's chain of dependent operations would
    /// mostly wait on the previous step). The range test of the exps is done once for the block
    /// (a sum of squares); a block with a huge or NaN argument is redone lane by lane. Then the
    /// rest of the per-token math, chunk by chunk.
    @_transparent
    private func tokenBlock<Sink: KernelSink>(_ tokens: Range<Int>, _ block: Block, _ row: inout Row, _ sink: Sink) {
        let lanes = Lanes.scalarCount
        let chunks = 0..<((tokens.count + lanes - 1) / lanes)  // chunk c starts at token tokens.lowerBound + 4c
        let limit = VectorMath.fastRange * VectorMath.fastRange
        // log_ratio = logp - old_logp;  coef_1 = exp(log_ratio)
        @_transparent func logRatio(_ c: Int) -> Lanes {
            let t = tokens.lowerBound + c * lanes, count = Swift.min(lanes, tokens.upperBound - t)
            return load(row.inputs.logp, t, count) - load(row.inputs.oldLogp, t, count)
        }
        var squares = Lanes(repeating: 0)
        for c in chunks {
            let x = logRatio(c)
            squares += x * x
            block.ratio[c] = VectorMath.expInFastRange(x)
        }
        if !(squares.laneSum <= limit) {
            for c in chunks { block.ratio[c] = VectorMath.exp(logRatio(c)) }
        }
        // d = ref - logp, and expm1(d) for the k3 estimator
        if let ref = row.inputs.refLogp, needsKL(Sink.self), estimator == .k3 {
            @_transparent func d(_ c: Int) -> Lanes {
                let t = tokens.lowerBound + c * lanes, count = Swift.min(lanes, tokens.upperBound - t)
                return load(ref, t, count) - load(row.inputs.logp, t, count)
            }
            squares = Lanes(repeating: 0)
            for c in chunks {
                let x = d(c)
                squares += x * x
                block.expm1[c] = VectorMath.expm1InFastRange(x)
            }
            if !(squares.laneSum <= limit) {
                for c in chunks { block.expm1[c] = VectorMath.expm1(d(c)) }
            }
        }
        for c in chunks {
            let t = tokens.lowerBound + c * lanes
            tokenChunk(at: t, count: Swift.min(lanes, tokens.upperBound - t), ratio: block.ratio[c],
                       expm1: block.expm1[c], &row, sink)
        }
    }

    /// Whether the KL has to be computed: it enters the loss, or the breakdown reports it.
    @_transparent
    private func needsKL<Sink: KernelSink>(_: Sink.Type) -> Bool { addKL || Sink.recordsEverything }

    /// Token level: four tokens t ..< t + 4 of the row, each with its own ratio r = coef_1.
    /// `expm1` is exp(ref - logp) - 1 when the k3 KL is needed (anything otherwise).
    @_transparent
    private func tokenChunk<Sink: KernelSink>(at t: Int, count: Int, ratio r: Lanes, expm1: Lanes,
                                              _ row: inout Row, _ sink: Sink) {
        let a = row.advantage
        // per_token_loss = -min(coef_1 A, coef_2 A); d / d logp = d / d coef_1 * coef_1
        var (loss, dRatio) = policyTerm(ratio: r, advantage: a)
        // * entropy_mask, * importance_sampling_ratio (policy term only)
        let keep = maskAndWeigh(&loss, &dRatio, row.inputs, t, count)
        var dLogp = Self.chain(dRatio, r)

        // per_token_kl (times coef_1 with the bias correction: d (k r) = dk r + k r)
        var kl = Lanes(repeating: 0)
        if let ref = row.inputs.refLogp, needsKL(Sink.self) {
            var dKL: Lanes
            (kl, dKL) = klTerm(d: load(ref, t, count) - load(row.inputs.logp, t, count), expm1OfD: expm1)
            if biasCorrection {
                let dropped = Self.zeroKLAtInfiniteRatio(kl, r), overflowed = (kl .== .infinity) .& (r .== 0)
                kl = (kl * r).replacing(with: 0, where: dropped)
                dKL = (dKL * r + kl).replacing(with: 0, where: dropped .| overflowed)
                if any(overflowed) {
                    let logRatio = load(row.inputs.logp, t, count) - load(row.inputs.oldLogp, t, count)
                    kl = overflowedProduct(kl, where: overflowed, ref: load(ref, t, count), row.inputs, t, count, logRatio: logRatio)
                }
            }
            // per_token_loss += beta * per_token_kl
            if addKL {
                loss += beta * kl
                dLogp += beta * dKL
            }
        }

        // The loss_type weight: grad = w * d per_token_loss / d logp; the row sum of the losses.
        let j = row.start + t
        (row.weight * dLogp).store(to: grad.baseAddress.unsafelyUnwrapped, j, count: count)
        let valid = count == Lanes.scalarCount ? nil : Self.lanes(below: count)
        row.lossSum += padded(loss, valid)
        if Sink.recordsEverything {
            // Clip metrics: the ratio left the range on the side the advantage pushes towards.
            let one = Lanes(repeating: 1), zero = Lanes(repeating: 0)
            if a < 0 { row.clipLow += padded(zero.replacing(with: one, where: r .< lowerBound), valid) }
            if a > 0 { row.clipHigh += padded(zero.replacing(with: one, where: r .> highClipBound), valid) }
            record(&row, kl: kl, t, count, valid)
        }
        sink.store(Chunk(start: j, count: count, ratio: r, loss: loss, kl: kl, keep: keep))
    }

    /// GSPO: s = exp(mean_t(logp_t - old_logp_t)) for the row, and the policy term at s.
    private func sequenceRatio(_ row: inout Row) {
        let n = row.inputs.count
        var logRatioSum = 0.0
        for t in 0..<n { logRatioSum += row.inputs.logp[t] - row.inputs.oldLogp[t] }
        row.logS = logRatioSum / Double(Swift.max(n, 1))
        row.s = exp(row.logS)
        let (loss, dRatio) = policyTerm(ratio: Lanes(repeating: row.s), advantage: row.advantage)
        (row.policyLoss, row.dPolicy) = (loss[0], dRatio[0])
    }

    /// Sequence level (GSPO): one ratio s for the row, so the policy term is the same at every
    /// kept token, and each token's gradient also collects what every other token of the row
    /// sends back through s (added in `finishSequenceRow`).
    @_transparent
    private func sequenceChunk<Sink: KernelSink>(at t: Int, count: Int, _ row: inout Row, _ sink: Sink) {
        let valid = count == Lanes.scalarCount ? nil : Self.lanes(below: count)
        let s = Lanes(repeating: row.s)
        var loss = Lanes(repeating: row.policyLoss)
        var dRatio = Lanes(repeating: row.dPolicy)  // d L_t / d s
        let keep = maskAndWeigh(&loss, &dRatio, row.inputs, t, count)
        row.throughRatio += padded(dRatio, valid)
        var dLogp = Lanes(repeating: 0)  // the policy term reaches logp only through s

        var kl = Lanes(repeating: 0)
        if let ref = row.inputs.refLogp, needsKL(Sink.self) {
            var dKL: Lanes
            let d = load(ref, t, count) - load(row.inputs.logp, t, count)
            (kl, dKL) = klTerm(d: d, expm1OfD: VectorMath.expm1(d))
            if biasCorrection {
                let dropped = Self.zeroKLAtInfiniteRatio(kl, s), overflowed = (kl .== .infinity) .& (s .== 0)
                // d (k s) / d logp_t = dk s here, plus k through s (not where the product overflowed).
                if addKL { row.throughRatio += padded((beta * kl).replacing(with: 0, where: overflowed), valid) }
                kl = (kl * s).replacing(with: 0, where: dropped)
                dKL = (dKL * s).replacing(with: 0, where: dropped .| overflowed)
                if any(overflowed) {
                    kl = overflowedProduct(kl, where: overflowed, ref: load(ref, t, count), row.inputs, t, count,
                                           logRatio: Lanes(repeating: row.logS))
                }
            }
            if addKL {
                loss += beta * kl
                dLogp += beta * dKL
            }
        }
        let j = row.start + t
        (row.weight * dLogp).store(to: grad.baseAddress.unsafelyUnwrapped, j, count: count)
        row.lossSum += padded(loss, valid)
        if Sink.recordsEverything { record(&row, kl: kl, t, count, valid) }
        sink.store(Chunk(start: j, count: count, ratio: s, loss: loss, kl: kl, keep: keep))
    }

    /// Sends what the row's tokens passed through s back to each token (d s / d logp_t =
    /// s / |o_i|), and counts the row's clip metrics (one unit per completion).
    private func finishSequenceRow(_ row: Row, _ sums: inout KernelSums) {
        let n = row.inputs.count
        let throughRatio = row.throughRatio.laneSum
        // Nothing sent back through s passes nothing on, even when s overflowed to inf.
        let shared = throughRatio == 0 ? 0 : row.weight * throughRatio * row.s / Double(Swift.max(n, 1))
        for j in row.start..<(row.start + n) { grad[j] += shared }
        if row.s < lowerBound && row.advantage < 0 { sums.clipLow += 1; sums.clipRegion += 1 }
        if row.s > highClipBound && row.advantage > 0 { sums.clipHigh += 1; sums.clipRegion += 1 }
        sums.clipUnits += 1
    }

    // MARK: Steps shared by both levels

    /// per_token_loss *= entropy_mask; per_token_loss *= importance_sampling_ratio. Both select
    /// (a dropped token's term becomes exactly 0), as the naive path does. Returns the mask.
    @_transparent
    private func maskAndWeigh(_ loss: inout Lanes, _ dRatio: inout Lanes, _ inputs: RowInputs,
                              _ t: Int, _ count: Int) -> LaneMask {
        var keep = LaneMask(repeating: true)
        if let threshold = entropyThreshold, let entropy = inputs.entropy {
            keep = load(entropy, t, count) .>= threshold
            loss.replace(with: 0, where: .!keep)
            dRatio.replace(with: 0, where: .!keep)
        }
        if let weights = inputs.samplerWeight {
            let w = load(weights, t, count)
            let dropped = w .== 0
            loss = (loss * w).replacing(with: 0, where: dropped)
            dRatio = (dRatio * w).replacing(with: 0, where: dropped)
        }
        return keep
    }

    /// The breakdown's KL and entropy sums, and its probe of the inputs at tokens t ..< t + count
    /// (x - x is 0 for every finite x; missing lanes load as 0).
    @_transparent
    private func record(_ row: inout Row, kl: Lanes, _ t: Int, _ count: Int, _ valid: LaneMask?) {
        row.klSum += padded(kl, valid)
        var probe = Self.zeroIfFinite(load(row.inputs.logp, t, count)) + Self.zeroIfFinite(load(row.inputs.oldLogp, t, count))
        if let ref = row.inputs.refLogp { probe += Self.zeroIfFinite(load(ref, t, count)) }
        if let entropy = row.inputs.entropy {
            let e = load(entropy, t, count)
            row.entropySum += e
            probe += Self.zeroIfFinite(e)
        }
        row.probe += probe
    }

    /// x - x: 0 where x is finite, NaN where it is inf or NaN.
    @_transparent
    static func zeroIfFinite(_ x: Lanes) -> Lanes { x - x }

    @_transparent
    private func load(_ buffer: UnsafeBufferPointer<Double>, _ t: Int, _ count: Int) -> Lanes {
        // Token t exists, so the buffer is not empty and has a base address.
        Lanes.load(buffer.baseAddress.unsafelyUnwrapped, t, count: count)
    }

    /// upstream * local, but 0 where upstream is 0 even if local is inf: a node that receives no
    /// gradient passes none on (as `Scalar.backward` does; 0 * inf would be NaN). The local
    /// derivative of the ratio is the ratio, which overflows to inf for log-ratios above 709.
    @_transparent
    static func chain(_ upstream: Lanes, _ local: Lanes) -> Lanes {
        (upstream * local).replacing(with: 0, where: upstream .== 0)
    }

    /// Bias correction where the KL overflowed to inf and the ratio underflowed to 0: those lanes
    /// get the product taken in logs (`Naive.overflowedBiasCorrectedKL`); rare, so lane by lane.
    private func overflowedProduct(_ kl: Lanes, where overflowed: LaneMask, ref: Lanes, _ inputs: RowInputs,
                                   _ t: Int, _ count: Int, logRatio: Lanes) -> Lanes {
        var out = kl
        let d = ref - load(inputs.logp, t, count)
        for l in 0..<count where overflowed[l] {
            out[l] = Naive.overflowedBiasCorrectedKL(d: d[l], logRatio: logRatio[l], estimator: estimator)
        }
        return out
    }

    /// Bias correction: a KL of exactly 0 times a ratio that overflowed to inf is taken as 0,
    /// with no gradient, as in `Naive.breakdown` (inf * 0 would be NaN).
    @_transparent
    static func zeroKLAtInfiniteRatio(_ kl: Lanes, _ r: Lanes) -> LaneMask {
        (kl .== 0) .& (r .== .infinity)
    }

    /// The lanes below `count` (for a row's last, partial chunk).
    @_transparent
    static func lanes(below count: Int) -> LaneMask {
        SIMD4<Int64>(0, 1, 2, 3) .< Int64(count)
    }

    /// `x` with the lanes past the row's end set to 0 (nil: all lanes are tokens).
    @_transparent
    private func padded(_ x: Lanes, _ valid: LaneMask?) -> Lanes {
        guard let valid else { return x }
        return Lanes(repeating: 0).replacing(with: x, where: valid)
    }
}

// MARK: Row sources

/// Rows of a `FlatBatch`: slices of its flat arrays.
struct FlatRows: RowSource {
    let logp: UnsafeBufferPointer<Double>
    let oldLogp: UnsafeBufferPointer<Double>
    let refLogp: UnsafeBufferPointer<Double>?
    let entropy: UnsafeBufferPointer<Double>?
    let samplerWeight: UnsafeBufferPointer<Double>?
    let offsets: UnsafeBufferPointer<Int>

    @_transparent
    func withRow<R>(_ i: Int, _ body: (RowInputs) -> R) -> R {
        let tokens = offsets[i]..<offsets[i + 1]
        func slice(_ b: UnsafeBufferPointer<Double>) -> UnsafeBufferPointer<Double> { UnsafeBufferPointer(rebasing: b[tokens]) }
        return body(RowInputs(count: tokens.count, logp: slice(logp), oldLogp: slice(oldLogp),
                              refLogp: refLogp.map(slice), entropy: entropy.map(slice),
                              samplerWeight: samplerWeight.map(slice)))
    }
}

/// Rows of a `Batch`, read in place from each completion's own arrays (the breakdown does not
/// copy the batch into flat arrays first). Sampler weights, which we compute, are flat.
struct CompletionRows: RowSource {
    let completions: [Completion]
    let useReference: Bool
    let useEntropy: Bool
    let samplerWeight: UnsafeBufferPointer<Double>?
    let offsets: UnsafeBufferPointer<Int>

    @_transparent
    func withRow<R>(_ i: Int, _ body: (RowInputs) -> R) -> R {
        let c = completions[i]
        let weights = samplerWeight.map { UnsafeBufferPointer(rebasing: $0[offsets[i]..<offsets[i + 1]]) }
        return c.logp.withUnsafeBufferPointer { logp in
            c.oldLogp.withUnsafeBufferPointer { old in
                withOptional(useReference ? c.refLogp : nil) { ref in
                    withOptional(useEntropy ? c.entropy : nil) { entropy in
                        body(RowInputs(count: logp.count, logp: logp, oldLogp: old, refLogp: ref,
                                       entropy: entropy, samplerWeight: weights))
                    }
                }
            }
        }
    }
}

@_transparent
func withOptional<R>(_ array: [Double]?, _ body: (UnsafeBufferPointer<Double>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0) }
}

/// The row sources and sinks hold pointers into buffers that each parallel range reads, or
/// writes only at its own rows' positions, so sharing them between threads is safe.
extension FlatRows: @unchecked Sendable {}
extension CompletionRows: @unchecked Sendable {}
extension GradientOnly: @unchecked Sendable {}
extension EveryQuantity: @unchecked Sendable {}
extension LossKernel: @unchecked Sendable {}
