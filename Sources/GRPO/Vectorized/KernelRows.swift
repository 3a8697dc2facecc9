/// One completion's per-token inputs, wherever they are stored (a `FlatBatch`, or the arrays of
/// a `Batch`'s completions). `count` tokens; the optional ones are nil when not used.
struct RowInputs {
    var count: Int
    var logp: UnsafeBufferPointer<Double>
    var oldLogp: UnsafeBufferPointer<Double>
    /// nil without reference log-probabilities.
    var refLogp: UnsafeBufferPointer<Double>?
    /// nil without entropies (they feed the entropy mask, the bonus and the entropy metric).
    var entropy: UnsafeBufferPointer<Double>?
    /// nil unless the sampler/trainer correction multiplies the policy term.
    var samplerWeight: UnsafeBufferPointer<Double>?
    /// 1 where the loss counts the token, 0 where it does not; nil when it counts every token.
    var lossMask: UnsafeBufferPointer<Double>?
    /// The sampler's log-probs, for the passes before the kernel (the kernel reads the weights).
    var samplerLogp: UnsafeBufferPointer<Double>? = nil
    /// The log-ratio penalty's coefficients (`Completion.logRatioPenalty`); nil when none are given.
    var logRatioPenalty: UnsafeBufferPointer<Double>? = nil
}

/// Gives the kernel one row at a time. Generic, so each source compiles to its own loop.
protocol RowSource {
    func withRow<R>(_ i: Int, _ body: (RowInputs) -> R) -> R
}

/// What the kernel knows of each row before it reads its tokens (one entry per completion;
/// the optional ones nil when the term is off).
struct RowFacts {
    let advantages: UnsafeBufferPointer<Double>
    /// m_i, the tokens each row's loss counts; nil when every token counts.
    let counted: UnsafeBufferPointer<Int>?
    /// The off-policy sequence mask: false drops the row's policy term.
    let keepPolicy: UnsafeBufferPointer<Bool>?
    /// VESPO's phi of each row.
    let vespoWeight: UnsafeBufferPointer<Double>?
}

/// Sums one range of rows contributes; added up across ranges when rows run in parallel.
/// Loss + gradient keeps `loss` and the entropy bonus's sums; the rest are the breakdown's metrics.
struct KernelSums {
    /// sum over rows of w_i sum_t (policy term) + w_reg_i sum_t (beta KL): the loss before the entropy term
    var loss = 0.0
    /// The objective's clip counts (clip-and-min: low and high; cispo: high) and the units they
    /// count: tokens (token level) or completions (sequence level).
    var clipLow = 0.0, clipHigh = 0.0
    var clipUnits = 0.0
    /// The smallest per-row share of low-clipped units and the largest of high-clipped ones, over
    /// rows with at least one unit (TRL's `clip_ratio/low_min`, `high_max`); nil: no such row.
    var lowMin: Double? = nil, highMax: Double? = nil
    var kl = 0.0
    var entropy = 0.0
    /// Entropies summed over the tokens the policy term acts on, and their number: the bonus.
    var actingEntropy = 0.0, actingTokens = 0.0
    /// Breakdown only: the sum of x - x over every input value read, so exactly 0 when all of
    /// them are finite and NaN after any inf or NaN. The breakdown checks its inputs this way,
    /// as it reads them, instead of in a pass of its own.
    var inputProbe = 0.0

    static func + (x: KernelSums, y: KernelSums) -> KernelSums {
        KernelSums(loss: x.loss + y.loss, clipLow: x.clipLow + y.clipLow, clipHigh: x.clipHigh + y.clipHigh,
                   clipUnits: x.clipUnits + y.clipUnits, lowMin: merge(x.lowMin, y.lowMin, Swift.min),
                   highMax: merge(x.highMax, y.highMax, Swift.max),
                   kl: x.kl + y.kl, entropy: x.entropy + y.entropy,
                   actingEntropy: x.actingEntropy + y.actingEntropy, actingTokens: x.actingTokens + y.actingTokens,
                   inputProbe: x.inputProbe + y.inputProbe)
    }

    /// One row's clip shares, into the running min and max.
    mutating func addRowShares(low: Double, high: Double, units: Double) {
        guard units > 0 else { return }
        lowMin = Self.merge(lowMin, low / units, Swift.min)
        highMax = Self.merge(highMax, high / units, Swift.max)
    }

    /// `pick` of the two, or the one that is there.
    private static func merge(_ a: Double?, _ b: Double?, _ pick: (Double, Double) -> Double) -> Double? {
        guard let a else { return b }
        guard let b else { return a }
        return pick(a, b)
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

// MARK: Row sources

/// Rows of a `FlatBatch`: slices of its flat arrays.
struct FlatRows: RowSource {
    let logp: UnsafeBufferPointer<Double>
    let oldLogp: UnsafeBufferPointer<Double>
    let refLogp: UnsafeBufferPointer<Double>?
    let entropy: UnsafeBufferPointer<Double>?
    let samplerWeight: UnsafeBufferPointer<Double>?
    let lossMask: UnsafeBufferPointer<Double>?
    let samplerLogp: UnsafeBufferPointer<Double>?
    let offsets: UnsafeBufferPointer<Int>
    var logRatioPenalty: UnsafeBufferPointer<Double>? = nil

    @_transparent
    func withRow<R>(_ i: Int, _ body: (RowInputs) -> R) -> R {
        let tokens = offsets[i]..<offsets[i + 1]
        func slice(_ b: UnsafeBufferPointer<Double>) -> UnsafeBufferPointer<Double> { UnsafeBufferPointer(rebasing: b[tokens]) }
        return body(RowInputs(count: tokens.count, logp: slice(logp), oldLogp: slice(oldLogp),
                              refLogp: refLogp.map(slice), entropy: entropy.map(slice),
                              samplerWeight: samplerWeight.map(slice), lossMask: lossMask.map(slice),
                              samplerLogp: samplerLogp.map(slice), logRatioPenalty: logRatioPenalty.map(slice)))
    }
}

/// Rows of a `Batch`, read in place from each completion's own arrays (the breakdown does not
/// copy the batch into flat arrays first). Sampler weights and the loss mask, which we compute,
/// are flat.
struct CompletionRows: RowSource {
    let completions: [Completion]
    let useReference: Bool
    let useEntropy: Bool
    let samplerWeight: UnsafeBufferPointer<Double>?
    let lossMask: UnsafeBufferPointer<Double>?
    let offsets: UnsafeBufferPointer<Int>
    /// The log-ratio penalty's coefficients, flat (nil: none).
    var logRatioPenalty: UnsafeBufferPointer<Double>? = nil

    @_transparent
    func withRow<R>(_ i: Int, _ body: (RowInputs) -> R) -> R {
        let c = completions[i]
        let tokens = offsets[i]..<offsets[i + 1]
        let weights = samplerWeight.map { UnsafeBufferPointer(rebasing: $0[tokens]) }
        let mask = lossMask.map { UnsafeBufferPointer(rebasing: $0[tokens]) }
        let penalty = logRatioPenalty.map { UnsafeBufferPointer(rebasing: $0[tokens]) }
        return c.logp.withUnsafeBufferPointer { logp in
            c.oldLogp.withUnsafeBufferPointer { old in
                withOptional(useReference ? c.refLogp : nil) { ref in
                    withOptional(useEntropy ? c.entropy : nil) { entropy in
                        withOptional(c.samplerLogp) { sampler in
                            body(RowInputs(count: logp.count, logp: logp, oldLogp: old, refLogp: ref,
                                           entropy: entropy, samplerWeight: weights, lossMask: mask, samplerLogp: sampler,
                                           logRatioPenalty: penalty))
                        }
                    }
                }
            }
        }
    }
}

@_transparent
func withOptional<T, R>(_ array: [T]?, _ body: (UnsafeBufferPointer<T>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0) }
}

/// The row sources and sinks hold pointers into buffers that each parallel range reads, or
/// writes only at its own rows' positions, so sharing them between threads is safe.
extension FlatRows: @unchecked Sendable {}
extension CompletionRows: @unchecked Sendable {}
extension GradientOnly: @unchecked Sendable {}
extension EveryQuantity: @unchecked Sendable {}
extension RowFacts: @unchecked Sendable {}
