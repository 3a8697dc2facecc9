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

/// The fused per-token pass: everything from `log_ratio` to d loss / d logp, row by row, four
/// tokens at a time in SIMD lanes. The math is that of `Naive.breakdown`; the gradient is the
/// chain rule written out:
///
///     d L_t / d logp_t = (d objective term / d r) r + d objective term / d logp   (0 if masked)
///                        + beta * d KL_t / d logp_t                               (KL term)
///     clip-and-min: d/dr = -(dmin/d c1) A dc1 - (dmin/d c2) A dc2,  dc1 = 1 if r <= delta,
///                   dc2 = 1 if 1-eps <= r <= 1+eps_high;  cispo, vespo: d/dlogp = -w A;
///     sapo: d/dr = -4 A sigmoid'(tau (r - 1))
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
///     per_token_loss = the loss_type's objective                tokenChunk -> objectiveTerm
///     per_token_loss += k |log_ratio| (verl's kl_cov)             tokenChunk -> penalize
///     per_token_loss *= off_policy_mask, entropy_mask           tokenChunk -> maskAndWeigh
///     per_token_loss *= importance_sampling_ratio               only with sampler log-probs
///     per_token_kl = exp(ref - logp) - (ref - logp) - 1         tokenChunk -> klTerm
///     per_token_loss += beta * per_token_kl
///     the aggregation: grad = w * d per_token_loss / d logp, and the row's sum of losses, at the
///     tokens of `mask` (`completion_mask * tool_mask`)
///
/// The exps come first for the whole block because they are most of the work: in a loop of
/// their own the chunks are independent and the CPU overlaps them. The options are fixed for
/// the whole batch, so their tests are perfectly predicted branches. GSPO (`sequenceChunk`) has
/// one ratio per row and follows the same lines.
struct LossKernel {
    let grad: UnsafeMutableBufferPointer<Double>
    /// Where each row's tokens go in the flat outputs (B + 1 offsets), and what each row brings.
    let offsets: UnsafeBufferPointer<Int>
    let facts: RowFacts
    let lowerBound: Double   // 1 - epsilon
    let upperBound: Double   // 1 + epsilon_high
    let epsilon: Double, epsilonHigh: Double  // the widths themselves (DPPO's trust region)
    let delta: Double        // TRL's cap of the unclipped ratio; +inf when off (or a dual clip)
    /// verl's dual clip: delta, the floor of -loss / A for A < 0; nil when off.
    let dualClip: Double?
    /// log_ratio_clamp: the log-ratio is clamped into [-c, c]; nil when off.
    let logRatioClamp: Double?
    let klClamp: Bool, klStraightThrough: Bool
    /// GSPO: verl's per-token gradient form (each token's term reaches its own logp, times s), and
    /// the cap of the sequence log-ratio from above.
    let perTokenSequenceGradient: Bool, sequenceLogRatioCap: Double?
    /// The objective's clip metric counts ratios below `lowCountBound` where A < 0 and above
    /// `highCountBound` where A > 0: 1 - epsilon and 1 + epsilon_high for clip-and-min (+inf when
    /// delta caps the ratio at or below it: TRL tests the capped ratio), epsilon_high for cispo's
    /// one metric; never for sapo and vespo.
    let lowCountBound: Double, highCountBound: Double
    let beta: Double
    let addKL: Bool          // ref given and beta != 0
    let biasCorrection: Bool
    let estimator: GRPOConfig.KLEstimator
    let sequenceLevel: Bool
    let entropyThreshold: Double?
    let objective: GRPOConfig.PolicyObjective
    /// The regularizers' aggregation (the KL's, and the entropy's under verl's form) and the
    /// policy term's (`policy_agg_mode`); the same unless verl's sapo sets them apart.
    let aggregation: GRPOConfig.Aggregation, policyAggregation: GRPOConfig.Aggregation
    /// The usual case: one weight per row for every term, so the two parts are summed as one.
    let samePolicyAndRegularizerWeights: Bool
    let countDivisor: GRPOConfig.CountDivisor
    /// cispo's bounds of the ratio: (-inf, epsilon_high] (TRL's cap) or the clip range (verl).
    let cispoLow: Double, cispoHigh: Double
    let sapoTemperaturePos: Double, sapoTemperatureNeg: Double
    let droBeta: Double
    /// DPPO's cap of its detached weight min(r, delta) (+inf without delta).
    let dppoCap: Double
    /// The entropy bonus is on: sum the entropies of the tokens the policy term acts on (or, under
    /// verl's `entropy_aggregation`, of every counted token, each row's sum times its weight).
    let sumsActingEntropy: Bool, entropyByLossWeights: Bool
    /// 1/B, 1/N, 1/(B L) or 1 (`batchScale`), for the policy term and for the regularizers.
    let batchScale: Double, regularizerBatchScale: Double

    init(grad: UnsafeMutableBufferPointer<Double>, offsets: UnsafeBufferPointer<Int>, facts: RowFacts,
         config: GRPOConfig, hasReference: Bool, entropyThreshold: Double?, countedTokens: Int) {
        self.grad = grad
        self.offsets = offsets
        self.facts = facts
        lowerBound = 1 - config.epsilon
        upperBound = 1 + config.resolvedEpsilonHigh
        epsilon = config.epsilon
        epsilonHigh = config.resolvedEpsilonHigh
        switch config.deltaForm {
        case .cap: (delta, dualClip) = (config.delta ?? .infinity, nil)
        case .dualClip: (delta, dualClip) = (.infinity, config.delta)
        }
        logRatioClamp = config.logRatioClamp
        klClamp = config.klClamp
        klStraightThrough = config.klStraightThrough
        // GMPO's ratio has its own gradient (`finishSequenceRow`), the one torch takes.
        perTokenSequenceGradient = config.sequenceRatioGradient == .perToken && config.objective != .geoMean
        sequenceLogRatioCap = config.sequenceLogRatioCap
        switch config.objective {
        case .clipMin: (lowCountBound, highCountBound) = (lowerBound, delta > upperBound ? upperBound : .infinity)
        case .cispo:
            switch config.cispoClip {
            case .cap: (lowCountBound, highCountBound) = (-.infinity, config.resolvedEpsilonHigh)
            case .range: (lowCountBound, highCountBound) = (-.infinity, upperBound)
            }
        case .sapo, .vespo, .reinforce, .dro, .dppoTV, .dppoKL, .geoMean, .unclipped: (lowCountBound, highCountBound) = (-.infinity, .infinity)
        }
        beta = config.beta
        addKL = hasReference && config.beta != 0
        biasCorrection = config.useBiasCorrectionKL
        estimator = config.klEstimator
        sequenceLevel = config.importanceSamplingLevel == .sequence || config.objective == .geoMean
        // Entropies are compared in float32 (`Naive.entropyMask`): as doubles, against the cut.
        self.entropyThreshold = entropyThreshold.map(TorchRules.float32Cut)
        objective = config.objective
        aggregation = config.aggregation
        policyAggregation = config.policyAggregation
        samePolicyAndRegularizerWeights = config.policyAggregation == config.aggregation
        countDivisor = config.countDivisor
        switch config.cispoClip {
        case .cap: (cispoLow, cispoHigh) = (-.infinity, config.resolvedEpsilonHigh)
        case .range: (cispoLow, cispoHigh) = (lowerBound, upperBound)
        }
        sapoTemperaturePos = config.sapoTemperaturePos
        sapoTemperatureNeg = config.sapoTemperatureNeg
        droBeta = config.droBeta
        dppoCap = config.delta ?? .infinity
        sumsActingEntropy = config.entropyCoef != 0
        entropyByLossWeights = config.entropyAggregation == .lossAggregation
        batchScale = Self.batchScale(completions: offsets.count - 1, countedTokens: countedTokens, config.policyAggregation, config)
        regularizerBatchScale = Self.batchScale(completions: offsets.count - 1, countedTokens: countedTokens, config.aggregation, config)
    }

    /// The factor `KernelSums.loss` is missing, with B completions and N counted tokens:
    /// 1/B (seq-mean-token-mean, seq-mean-token-sum), 1/N (token-mean; N at least 1), 1/(B L)
    /// (the constant, L = loss_scale_factor or max_completion_length), 1 (token-sum).
    static func batchScale(completions: Int, countedTokens: Int, _ aggregation: GRPOConfig.Aggregation,
                           _ config: GRPOConfig) -> Double {
        switch aggregation {
        case .sequenceMeanTokenMean, .sequenceMeanTokenSum, .sequenceMean: 1 / Double(completions)
        case .tokenMean: 1 / Double(Swift.max(countedTokens, 1))
        case .constantNormalizer:
            1 / (Double(completions) * (config.lossScaleFactor ?? Double(config.maxCompletionLength)))
        case .tokenSum: 1
        }
    }

    /// Row scale: 1/m_i for seq-mean-token-mean (the per-sequence token mean; m_i at least 1, or
    /// m_i + 1e-8 under verl's count divisor), 1 otherwise.
    @_transparent
    static func rowScale(counted m: Int, _ aggregation: GRPOConfig.Aggregation, _ divisor: GRPOConfig.CountDivisor) -> Double {
        switch aggregation {
        case .sequenceMeanTokenMean:
            switch divisor {
            case .atLeastOne: 1 / Double(Swift.max(m, 1))
            case .plusEpsilon: 1 / (Double(m) + 1e-8)
            }
        case .sequenceMean: 1 / Double(Swift.max(m, 1))
        case .tokenMean, .constantNormalizer, .sequenceMeanTokenSum, .tokenSum: 1
        }
    }

    // MARK: Rows

    /// What the kernel carries along one row.
    struct Row {
        let inputs: RowInputs
        /// Flat index of the row's first token (in the outputs).
        let start: Int
        let advantage: Double
        /// m_i, the tokens the loss counts.
        let counted: Int
        /// The token weight w = rowScale * batchScale of the policy term, and the regularizers'.
        let weight: Double, regularizerWeight: Double
        /// The off-policy mask keeps the policy term; VESPO's phi; SAPO's temperature for this A.
        let keepsPolicy: Bool, vespoWeight: Double, sapoTemperature: Double
        /// sum_t L_t so far, one partial sum per lane (added in a fixed order at the end).
        var lossSum = Lanes(repeating: 0), regularizerLossSum = Lanes(repeating: 0)
        /// Clip counts, KL and entropy sums (breakdown only), acting entropies and their count
        /// (the bonus), and the input probe, per lane.
        var clipLow = Lanes(repeating: 0), clipHigh = Lanes(repeating: 0)
        var klSum = Lanes(repeating: 0), entropySum = Lanes(repeating: 0), probe = Lanes(repeating: 0)
        var actingEntropy = Lanes(repeating: 0), actingCount = Lanes(repeating: 0)
        // GSPO only: the row's ratio s and its log, and sum_t d L_t / d s so far.
        var s = 1.0, logS = 0.0
        /// log_ratio_clamp held the row's mean log-ratio: nothing passes back through s.
        var sRatioClamped = false
        var throughRatio = Lanes(repeating: 0), regularizerThroughRatio = Lanes(repeating: 0)
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
                    let m = facts.counted?[i] ?? n
                    let a = facts.advantages[i]
                    let weight = Self.rowScale(counted: m, policyAggregation, countDivisor) * batchScale
                    let regularizerWeight = Self.rowScale(counted: m, aggregation, countDivisor) * regularizerBatchScale
                    var row = Row(inputs: inputs, start: offsets[i], advantage: a, counted: m,
                                  weight: weight, regularizerWeight: regularizerWeight, keepsPolicy: facts.keepPolicy?[i] ?? true,
                                  vespoWeight: facts.vespoWeight?[i] ?? 0,
                                  sapoTemperature: a > 0 ? sapoTemperaturePos : sapoTemperatureNeg)
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
                            let low = row.clipLow.laneSum, high = row.clipHigh.laneSum
                            sums.clipLow += low
                            sums.clipHigh += high
                            sums.clipUnits += Double(m)
                            sums.addRowShares(low: low, high: high, units: Double(m))
                        }
                    }
                    sums.loss += row.lossSum.laneSum * row.weight + row.regularizerLossSum.laneSum * row.regularizerWeight
                    sums.actingEntropy += row.actingEntropy.laneSum * (entropyByLossWeights ? row.regularizerWeight : 1)
                    sums.actingTokens += row.actingCount.laneSum
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
            return clampLogRatio(load(row.inputs.logp, t, count) - load(row.inputs.oldLogp, t, count))
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
                return klInput(load(ref, t, count) - load(row.inputs.logp, t, count))
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
    func needsKL<Sink: KernelSink>(_: Sink.Type) -> Bool { addKL || Sink.recordsEverything }

    /// Token level: four tokens t ..< t + 4 of the row, each with its own ratio r = coef_1.
    /// `expm1` is exp(ref - logp) - 1 when the k3 KL is needed (anything otherwise).
    @_transparent
    private func tokenChunk<Sink: KernelSink>(at t: Int, count: Int, ratio r: Lanes, expm1: Lanes,
                                              _ row: inout Row, _ sink: Sink) {
        let a = row.advantage
        let logp = load(row.inputs.logp, t, count)
        // per_token_loss = the objective's term; * off_policy_mask, * entropy_mask, * the sampler weight
        // d r / d logp = r, or 0 where log_ratio_clamp held the log-ratio.
        let held = heldByClamp(row.inputs, t, count)
        let dr = held.map { r.replacing(with: 0, where: $0) } ?? r
        var term = tokenTerm(ratio: r, dRatioDLogp: dr, logp: logp, oldLogp: load(row.inputs.oldLogp, t, count), row)
        penalize(&term, row, t, count, logp: logp)
        let keep = maskAndWeigh(&term, row, t, count)
        let loss = term.loss, dLogp = term.dLogp
        var klLoss = Lanes(repeating: 0), dKLLoss = Lanes(repeating: 0)

        // per_token_kl (times coef_1 with the bias correction: d (k r) = dk r + k r)
        var kl = Lanes(repeating: 0)
        if let ref = row.inputs.refLogp, needsKL(Sink.self) {
            var dKL: Lanes
            (kl, dKL) = klTerm(d: load(ref, t, count) - logp, expm1OfD: expm1)
            if biasCorrection {
                let dropped = Self.zeroKLAtInfiniteRatio(kl, r), overflowed = (kl .== .infinity) .& (r .== 0)
                kl = (kl * r).replacing(with: 0, where: dropped)
                let throughRatio = held.map { kl.replacing(with: 0, where: $0) } ?? kl
                dKL = (dKL * r + throughRatio).replacing(with: 0, where: dropped .| overflowed)
                if any(overflowed) {
                    let logRatio = logp - load(row.inputs.oldLogp, t, count)
                    kl = overflowedProduct(kl, where: overflowed, ref: load(ref, t, count), row.inputs, t, count, logRatio: logRatio)
                }
            }
            // per_token_loss += beta * per_token_kl (aggregated with the regularizers' weight)
            if addKL {
                klLoss = beta * kl
                dKLLoss = beta * dKL
            }
        }

        // Only the tokens of the row the loss counts: the aggregations' weights, the row's sums.
        let active = activeLanes(row.inputs, t, count)
        let j = row.start + t
        let tokenLoss = storeToken(loss, dLogp, klLoss, dKLLoss, active, &row, at: j, count: count)
        sumActingEntropy(&row, keep: keep, active: active, t, count)
        if Sink.recordsEverything {
            // The objective's clip metric: the ratio left its range on the side A pushes towards.
            let one = Lanes(repeating: 1), zero = Lanes(repeating: 0)
            if a < 0 { row.clipLow += padded(zero.replacing(with: one, where: r .< lowCountBound), active) }
            if a > 0 { row.clipHigh += padded(zero.replacing(with: one, where: r .> highCountBound), active) }
            record(&row, kl: kl, t, count, active)
        }
        sink.store(Chunk(start: j, count: count, ratio: r, loss: tokenLoss, kl: kl, keep: Self.both(keep, active)))
    }

    /// Zeroes the lanes the loss does not count, writes d loss / d logp = w dL/dlogp (policy) +
    /// w_reg d(beta KL)/dlogp, and adds each part to its row sum. Returns the token's L_t.
    @_transparent
    func storeToken(_ loss: Lanes, _ dLogp: Lanes, _ klLoss: Lanes, _ dKLLoss: Lanes,
                    _ active: LaneMask?, _ row: inout Row, at j: Int, count: Int) -> Lanes {
        if samePolicyAndRegularizerWeights {
            // One weight for both parts (every TRL loss type): added first, as L_t = policy + beta KL.
            var total = loss + klLoss, dTotal = dLogp + dKLLoss
            if let active {
                total.replace(with: 0, where: .!active)
                dTotal.replace(with: 0, where: .!active)
            }
            (row.weight * dTotal).store(to: grad.baseAddress.unsafelyUnwrapped, j, count: count)
            row.lossSum += total
            return total
        }
        var (loss, dLogp, klLoss, dKLLoss) = (loss, dLogp, klLoss, dKLLoss)
        if let active {
            loss.replace(with: 0, where: .!active)
            dLogp.replace(with: 0, where: .!active)
            klLoss.replace(with: 0, where: .!active)
            dKLLoss.replace(with: 0, where: .!active)
        }
        (row.weight * dLogp + row.regularizerWeight * dKLLoss).store(to: grad.baseAddress.unsafelyUnwrapped, j, count: count)
        row.lossSum += loss
        row.regularizerLossSum += klLoss
        return loss + klLoss
    }

    /// GSPO: s = exp(mean_t(logp_t - old_logp_t)) over the row's counted tokens.
    private func sequenceRatio(_ row: inout Row) {
        if objective == .geoMean {
            geoMeanRatio(&row)
            return
        }
        var logRatioSum = 0.0
        for t in 0..<row.inputs.count where row.inputs.lossMask.map({ $0[t] != 0 }) ?? true {
            logRatioSum += row.inputs.logp[t] - row.inputs.oldLogp[t]
        }
        row.logS = logRatioSum / Double(Swift.max(row.counted, 1))
        if let c = logRatioClamp {
            row.sRatioClamped = !(row.logS >= -c && row.logS <= c)
            row.logS = Swift.min(Swift.max(row.logS, -c), c)
        }
        if let cap = sequenceLogRatioCap, !(row.logS <= cap) {
            row.sRatioClamped = true
            row.logS = Swift.min(row.logS, cap)
        }
        row.s = exp(row.logS)
    }

    /// Sequence level (GSPO): one ratio s for the row; each token's gradient also collects what
    /// every other counted token of the row sends back through s (added in `finishSequenceRow`).
    @_transparent
    private func sequenceChunk<Sink: KernelSink>(at t: Int, count: Int, _ row: inout Row, _ sink: Sink) {
        let active = activeLanes(row.inputs, t, count)
        let s = Lanes(repeating: row.s)
        let logp = load(row.inputs.logp, t, count)
        var term = objectiveTerm(ratio: s, logp: logp, oldLogp: load(row.inputs.oldLogp, t, count), row)
        penalize(&term, row, t, count, logp: logp)
        let keep = maskAndWeigh(&term, row, t, count)
        let loss = term.loss
        var dLogp = term.dLogp  // what reaches logp other than through s
        var klLoss = Lanes(repeating: 0), dKLLoss = Lanes(repeating: 0)
        // d L_t / d s: shared by every counted token (TRL), or to this token only, times s (verl).
        if !perTokenSequenceGradient {
            row.throughRatio += padded(term.dRatio, active)
        } else if !row.sRatioClamped {
            dLogp += Self.chain(term.dRatio, s)
        }

        var kl = Lanes(repeating: 0)
        if let ref = row.inputs.refLogp, needsKL(Sink.self) {
            var dKL: Lanes
            let d = load(ref, t, count) - logp
            (kl, dKL) = klTerm(d: d, expm1OfD: VectorMath.expm1(klInput(d)))
            if biasCorrection {
                let dropped = Self.zeroKLAtInfiniteRatio(kl, s), overflowed = (kl .== .infinity) .& (s .== 0)
                // d (k s) / d logp_t = dk s here, plus k through s (not where the product overflowed).
                if addKL {
                    let throughS = (beta * kl).replacing(with: 0, where: overflowed)
                    if !perTokenSequenceGradient {
                        row.regularizerThroughRatio += padded(throughS, active)
                    } else if !row.sRatioClamped {
                        dKLLoss += Self.chain(throughS, s)
                    }
                }
                kl = (kl * s).replacing(with: 0, where: dropped)
                dKL = (dKL * s).replacing(with: 0, where: dropped .| overflowed)
                if any(overflowed) {
                    kl = overflowedProduct(kl, where: overflowed, ref: load(ref, t, count), row.inputs, t, count,
                                           logRatio: Lanes(repeating: row.logS))
                }
            }
            if addKL {
                klLoss = beta * kl
                dKLLoss += beta * dKL
            }
        }
        let j = row.start + t
        let tokenLoss = storeToken(loss, dLogp, klLoss, dKLLoss, active, &row, at: j, count: count)
        sumActingEntropy(&row, keep: keep, active: active, t, count)
        if Sink.recordsEverything { record(&row, kl: kl, t, count, active) }
        sink.store(Chunk(start: j, count: count, ratio: s, loss: tokenLoss, kl: kl, keep: Self.both(keep, active)))
    }

    /// GMPO (`Naive.geoMeanRatio`): log s = sum_t g_t / (m_i + 1e-8), g_t the log-ratio clipped on
    /// the side A pushes.
    private func geoMeanRatio(_ row: inout Row) {
        var sum = 0.0
        for t in 0..<row.inputs.count where row.inputs.lossMask.map({ $0[t] != 0 }) ?? true {
            let x = row.inputs.logp[t] - row.inputs.oldLogp[t]
            let bounded = Swift.min(Swift.max(x, -epsilon), epsilonHigh)
            if row.advantage > 0 { sum += Swift.min(x, bounded) } else if row.advantage < 0 { sum += Swift.max(x, bounded) }
        }
        row.logS = sum / (Double(row.counted) + 1e-8)
        row.s = exp(row.logS)
    }

    /// GMPO's d log s / d logp_t: 1 / (m_i + 1e-8) where g_t moves with the log-ratio, 0 where
    /// its clip holds it (x above eps_high with A > 0, below -eps with A < 0) or A = 0.
    func geoMeanSlope(_ row: Row, _ t: Int) -> Double {
        let x = row.inputs.logp[t] - row.inputs.oldLogp[t]
        let held = row.advantage > 0 ? x > epsilonHigh : row.advantage < 0 ? x < -epsilon : true
        return held ? 0 : 1 / (Double(row.counted) + 1e-8)
    }

    /// Sends what the row's tokens passed through s back to each counted token (d s / d logp_t =
    /// s / m_i, or s times `geoMeanSlope` for GMPO), and counts the row's clip metric (one unit
    /// per completion).
    private func finishSequenceRow(_ row: Row, _ sums: inout KernelSums) {
        // Each part with its aggregation's weight.
        let throughRatio = row.weight * row.throughRatio.laneSum + row.regularizerWeight * row.regularizerThroughRatio.laneSum
        // Nothing sent back through s passes nothing on, even when s overflowed to inf.
        let shared = throughRatio == 0 || row.sRatioClamped ? 0 : throughRatio * row.s / Double(Swift.max(row.counted, 1))
        for t in 0..<row.inputs.count where row.inputs.lossMask.map({ $0[t] != 0 }) ?? true {
            if objective == .geoMean {
                if throughRatio != 0 { grad[row.start + t] += throughRatio * row.s * geoMeanSlope(row, t) }
            } else {
                grad[row.start + t] += shared
            }
        }
        let low = row.s < lowCountBound && row.advantage < 0 ? 1.0 : 0
        let high = row.s > highCountBound && row.advantage > 0 ? 1.0 : 0
        sums.clipLow += low
        sums.clipHigh += high
        sums.clipUnits += 1
        sums.addRowShares(low: low, high: high, units: 1)
    }
}

extension LossKernel: @unchecked Sendable {}
