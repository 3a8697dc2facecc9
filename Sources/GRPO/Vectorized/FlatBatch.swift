/// The batch laid out the way the vectorized path reads it: each per-token quantity in one
/// contiguous array, completions back to back, row i at `offsets[i] ..< offsets[i+1]`.
///
/// TRL pads every completion to the longest and carries a 0/1 mask; here there is no padding at
/// all, so no padded position can carry a NaN or inf into the result. Lesson 12.
public struct FlatBatch: Sendable {
    public var logp: [Double]
    public var oldLogp: [Double]
    /// Empty when the batch has no reference log-probabilities (`hasReference` is false).
    public var refLogp: [Double]
    /// Empty when the batch has no entropies (`hasEntropy` is false).
    public var entropy: [Double]
    /// Empty unless the completions carry sampler log-probabilities (`hasSampler`).
    public var samplerLogp: [Double]
    public var hasReference: Bool
    public var hasEntropy: Bool
    public var hasSampler: Bool
    /// Which tokens the loss trains on, flat (a completion's `mask`); empty when all of them.
    public var mask: [Bool]
    /// Whether each completion was truncated (empty: none was).
    public var truncated: [Bool]
    /// The given policy weights (`Completion.policyWeight`), flat; empty when none are given.
    public var policyWeight: [Double] = []
    /// The log-ratio penalty coefficients (`Completion.logRatioPenalty`), flat; empty when none are given.
    public var logRatioPenalty: [Double] = []
    /// B + 1 row starts; `offsets[B]` is the number of tokens.
    public var offsets: [Int]
    /// r_i, one per completion, group after group.
    public var rewards: [Double]
    /// G: completions per group.
    public var groupSize: Int

    /// `refLogp`, `entropy` and `samplerLogp` are either empty (absent) or one value per token.
    public init(logp: [Double], oldLogp: [Double], refLogp: [Double], entropy: [Double],
                samplerLogp: [Double] = [], mask: [Bool] = [], truncated: [Bool] = [], offsets: [Int],
                rewards: [Double], groupSize: Int,
                hasReference: Bool? = nil, hasEntropy: Bool? = nil, hasSampler: Bool? = nil) {
        self.mask = mask
        self.truncated = truncated
        self.samplerLogp = samplerLogp
        self.hasSampler = hasSampler ?? (!samplerLogp.isEmpty)
        self.logp = logp
        self.oldLogp = oldLogp
        self.refLogp = refLogp
        self.entropy = entropy
        self.hasReference = hasReference ?? (!refLogp.isEmpty)
        self.hasEntropy = hasEntropy ?? (!entropy.isEmpty)
        self.offsets = offsets
        self.rewards = rewards
        self.groupSize = groupSize
    }

    /// Flattens a (validated) batch.
    public init(_ batch: Batch) {
        let n = batch.tokenCount
        var logp: [Double] = [], old: [Double] = [], ref: [Double] = [], entropy: [Double] = [], sampler: [Double] = []
        let hasRef = batch.hasReference, hasEntropy = batch.hasEntropy, hasSampler = batch.hasSampler
        logp.reserveCapacity(n)
        old.reserveCapacity(n)
        if hasRef { ref.reserveCapacity(n) }
        if hasEntropy { entropy.reserveCapacity(n) }
        if hasSampler { sampler.reserveCapacity(n) }
        var offsets = [0]
        var rewards: [Double] = []
        let hasMask = batch.completions.contains { $0.mask != nil }
        var mask: [Bool] = []
        for c in batch.completions {
            if hasMask { mask += c.mask ?? Array(repeating: true, count: c.length) }
            logp += c.logp
            old += c.oldLogp
            if hasRef { ref += c.refLogp! }
            if hasEntropy { entropy += c.entropy! }
            if hasSampler { sampler += c.samplerLogp! }
            offsets.append(logp.count)
            rewards.append(c.reward)
        }
        let truncated = batch.completions.contains(where: \.truncated) ? batch.completions.map(\.truncated) : []
        self.init(logp: logp, oldLogp: old, refLogp: ref, entropy: entropy, samplerLogp: sampler,
                  mask: mask, truncated: truncated, offsets: offsets, rewards: rewards, groupSize: batch.groupSize,
                  hasReference: hasRef, hasEntropy: hasEntropy, hasSampler: hasSampler)
        if batch.hasPolicyWeight { policyWeight = batch.completions.flatMap { $0.policyWeight! } }
        if batch.hasLogRatioPenalty { logRatioPenalty = batch.completions.flatMap { $0.logRatioPenalty! } }
    }

    public var completionCount: Int { rewards.count }
    public var tokenCount: Int { offsets.last ?? 0 }
    public var lengths: [Int] { (0..<completionCount).map { offsets[$0 + 1] - offsets[$0] } }
}

extension FlatBatch {
    /// Checks that the arrays are as long as the offsets say, so that the kernel reads nothing
    /// past an array's end: B + 1 offsets from 0, never decreasing; every per-token array either
    /// empty (absent) or one value per token (`refLogp`, `entropy`, `samplerLogp` when their flag
    /// says they are there); one reward, one truncation flag (or none) and one advantage per
    /// completion. A look at each count and offset, not at the values: `lossAndGradient` is the
    /// hot path, and `Batch.validate` checks the values of a batch before it is flattened.
    public func checkLayout(advantages: Int) throws(BatchError) {
        guard let first = offsets.first, first == 0 else { throw BatchError("FlatBatch: offsets must start at 0, not \(offsets.first.map(String.init) ?? "empty")") }
        guard offsets.count == rewards.count + 1 else {
            throw BatchError("FlatBatch: \(offsets.count) offsets for \(rewards.count) completions; give one more offset than completions")
        }
        for k in 1..<offsets.count where offsets[k] < offsets[k - 1] {
            throw BatchError("FlatBatch: offsets[\(k)] = \(offsets[k]) is below offsets[\(k - 1)] = \(offsets[k - 1]); offsets never decrease")
        }
        let n = tokenCount
        func perToken(_ name: String, _ count: Int, required: Bool) throws(BatchError) {
            guard count == n || (!required && count == 0) else {
                throw BatchError("FlatBatch: \(name) has \(count) values but the offsets say \(n) tokens")
            }
        }
        try perToken("logp", logp.count, required: true)
        try perToken("oldLogp", oldLogp.count, required: true)
        if hasReference { try perToken("refLogp", refLogp.count, required: true) }
        if hasEntropy { try perToken("entropy", entropy.count, required: true) }
        if hasSampler { try perToken("samplerLogp", samplerLogp.count, required: true) }
        try perToken("mask", mask.count, required: false)
        try perToken("policyWeight", policyWeight.count, required: false)
        try perToken("logRatioPenalty", logRatioPenalty.count, required: false)
        guard truncated.isEmpty || truncated.count == completionCount else {
            throw BatchError("FlatBatch: truncated has \(truncated.count) flags for \(completionCount) completions")
        }
        guard advantages == completionCount else {
            throw BatchError("FlatBatch: \(advantages) advantages for \(completionCount) completions; give one per completion")
        }
    }
}
