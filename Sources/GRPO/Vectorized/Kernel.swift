#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Read-only views of the flat batch for the kernel.
struct KernelInputs {
    var logp: UnsafeBufferPointer<Double>
    var oldLogp: UnsafeBufferPointer<Double>
    /// nil without reference log-probabilities.
    var refLogp: UnsafeBufferPointer<Double>?
    /// nil unless the entropy mask is on.
    var entropy: UnsafeBufferPointer<Double>?
    /// nil unless the sampler/trainer correction is on.
    var samplerWeight: UnsafeBufferPointer<Double>?
    var offsets: UnsafeBufferPointer<Int>
    var advantages: UnsafeBufferPointer<Double>
}

/// Where the kernel writes. The gradient always; every other per-token quantity only when asked
/// (the full breakdown of `explain`), so loss + gradient alone touches as little memory as it can.
struct KernelOutputs {
    var grad: UnsafeMutableBufferPointer<Double>
    var ratio: UnsafeMutableBufferPointer<Double>? = nil
    var clippedRatio: UnsafeMutableBufferPointer<Double>? = nil
    var branch: UnsafeMutableBufferPointer<ClipBranch>? = nil
    var kl: UnsafeMutableBufferPointer<Double>? = nil
    var keep: UnsafeMutableBufferPointer<Bool>? = nil
    var perTokenLoss: UnsafeMutableBufferPointer<Double>? = nil
    var weight: UnsafeMutableBufferPointer<Double>? = nil
}

/// Sums one range of rows contributes; added up across ranges when rows run in parallel.
struct KernelSums {
    /// sum over rows of rowScale * sum_t L_t (times batchScale, this is the loss)
    var loss = 0.0
    var clipLow = 0.0, clipHigh = 0.0, clipRegion = 0.0
    /// tokens (token level) or completions (sequence level) the clip fractions count
    var clipUnits = 0.0
    var kl = 0.0
    var entropy = 0.0

    static func + (x: KernelSums, y: KernelSums) -> KernelSums {
        KernelSums(loss: x.loss + y.loss, clipLow: x.clipLow + y.clipLow, clipHigh: x.clipHigh + y.clipHigh,
                   clipRegion: x.clipRegion + y.clipRegion, clipUnits: x.clipUnits + y.clipUnits,
                   kl: x.kl + y.kl, entropy: x.entropy + y.entropy)
    }
}

/// The fused per-token pass: everything from `log_ratio` to d loss / d logp, row by row.
/// The math is that of `Naive.breakdown`; the gradient is the chain rule written out:
///
///     d L_t / d logp_t = -(dmin/d c1) A dc1 - (dmin/d c2) A dc2      (policy term, 0 if masked)
///                        + beta * d KL_t / d logp_t                  (KL term)
///     dc1 = r if r <= delta else 0;  dc2 = r if 1-eps <= r <= 1+eps_high else 0  (r = d r / d logp)
///     d k1 = 1,  d k2 = -d,  d k3 = -expm1(d)     with d = ref_logp - logp
///     bias correction: d (k r) = dk r + k r
///
/// `dmin` sends the gradient to the smaller term, half to each on a tie (torch.minimum).
struct LossKernel {
    let inputs: KernelInputs
    let outputs: KernelOutputs
    let lowerBound: Double   // 1 - epsilon
    let upperBound: Double   // 1 + epsilon_high
    let delta: Double        // +inf when two-sided clipping is off
    let beta: Double
    let addKL: Bool          // ref given and beta != 0
    let biasCorrection: Bool
    let estimator: GRPOConfig.KLEstimator
    let sequenceLevel: Bool
    let entropyThreshold: Double?
    let lossType: GRPOConfig.LossType
    let batchScale: Double   // 1/B (grpo), 1/N (bnpo, dapo), 1/(B L) (dr_grpo)

    init(inputs: KernelInputs, outputs: KernelOutputs, config: GRPOConfig, hasReference: Bool,
         entropyThreshold: Double?, completionCount: Int, tokenCount: Int) {
        self.inputs = inputs
        self.outputs = outputs
        lowerBound = 1 - config.epsilon
        upperBound = 1 + config.resolvedEpsilonHigh
        delta = config.delta ?? .infinity
        beta = config.beta
        addKL = hasReference && config.beta != 0
        biasCorrection = config.useBiasCorrectionKL
        estimator = config.klEstimator
        sequenceLevel = config.importanceSamplingLevel == .sequence
        self.entropyThreshold = entropyThreshold
        lossType = config.lossType
        switch config.lossType {
        case .grpo: batchScale = 1 / Double(completionCount)
        case .bnpo, .dapo: batchScale = 1 / Double(max(tokenCount, 1))
        case .drGRPO: batchScale = 1 / (Double(completionCount) * Double(config.maxCompletionLength))
        }
    }

    /// The policy term -min(c1 A, c2 A) at ratio r, its derivative with respect to r, and the branch.
    @inline(__always)
    func policyTerm(ratio r: Double, advantage a: Double) -> (loss: Double, dRatio: Double, branch: ClipBranch) {
        let c2 = Swift.min(Swift.max(r, lowerBound), upperBound)
        let c1 = Swift.min(r, delta)
        let unclipped = c1 * a, clipped = c2 * a
        let dc1 = r <= delta ? 1.0 : 0.0
        let dc2 = r >= lowerBound && r <= upperBound ? 1.0 : 0.0
        if clipped < unclipped { return (-clipped, -a * dc2, .clipped) }
        let branch: ClipBranch = r > delta ? .capped : .unclipped
        if unclipped < clipped { return (-unclipped, -a * dc1, branch) }
        return (-unclipped, -a * 0.5 * (dc1 + dc2), branch)
    }

    /// The per-token KL estimate and its derivative with respect to logp.
    @inline(__always)
    func klTerm(logp: Double, ref: Double) -> (kl: Double, dLogp: Double) {
        let d = ref - logp
        switch estimator {
        case .k1: return (-d, 1)
        case .k2: return (d * d * 0.5, -d)
        case .k3:
            let e = expm1(d)
            return (e - d, -e)
        }
    }

    func run(rows: Range<Int>) -> KernelSums {
        var sums = KernelSums()
        for i in rows {
            if sequenceLevel { sequenceRow(i, &sums) } else { tokenRow(i, &sums) }
        }
        return sums
    }

    /// Row scale: 1/|o_i| for grpo (the per-sequence token mean), 1 otherwise.
    @inline(__always)
    func rowScale(length n: Int) -> Double { lossType == .grpo ? 1 / Double(Swift.max(n, 1)) : 1 }

    private func tokenRow(_ i: Int, _ sums: inout KernelSums) {
        let start = inputs.offsets[i], end = inputs.offsets[i + 1]
        let a = inputs.advantages[i]
        let scale = rowScale(length: end - start)
        let w = scale * batchScale
        var rowSum = 0.0
        for j in start..<end {
            let lp = inputs.logp[j]
            let r = exp(lp - inputs.oldLogp[j])
            let keep = entropyThreshold.map { inputs.entropy![j] >= $0 } ?? true
            var (loss, dRatio, branch) = policyTerm(ratio: r, advantage: a)
            if let weight = inputs.samplerWeight?[j] {
                if weight == 0 { loss = 0; dRatio = 0 } else { loss *= weight; dRatio *= weight }
            }
            if !keep { loss = 0; dRatio = 0 }
            var dLogp = dRatio * r
            var kl = 0.0
            if let ref = inputs.refLogp {
                let (k, dk) = klTerm(logp: lp, ref: ref[j])
                kl = biasCorrection ? k * r : k
                if addKL {
                    loss += beta * kl
                    dLogp += beta * (biasCorrection ? dk * r + k * r : dk)
                }
                sums.kl += kl
            }
            rowSum += loss
            outputs.grad[j] = w * dLogp
            if r < lowerBound && a < 0 { sums.clipLow += 1; sums.clipRegion += 1 }
            if r > upperBound && a > 0 { sums.clipHigh += 1; sums.clipRegion += 1 }
            if let entropy = inputs.entropy { sums.entropy += entropy[j] }
            outputs.ratio?[j] = r
            outputs.clippedRatio?[j] = Swift.min(Swift.max(r, lowerBound), upperBound)
            outputs.branch?[j] = branch
            outputs.kl?[j] = kl
            outputs.keep?[j] = keep
            outputs.perTokenLoss?[j] = loss
            outputs.weight?[j] = w
        }
        sums.clipUnits += Double(end - start)
        sums.loss += rowSum * scale
    }

    /// GSPO: one ratio s for the row, so each token's gradient also collects what every other
    /// token of the row sends back through s (d s / d logp_t = s / |o_i|).
    private func sequenceRow(_ i: Int, _ sums: inout KernelSums) {
        let start = inputs.offsets[i], end = inputs.offsets[i + 1]
        let n = end - start
        let a = inputs.advantages[i]
        let scale = rowScale(length: n)
        let w = scale * batchScale
        var logRatioSum = 0.0
        for j in start..<end { logRatioSum += inputs.logp[j] - inputs.oldLogp[j] }
        let s = exp(logRatioSum / Double(Swift.max(n, 1)))
        let (policyLoss, dPolicy, branch) = policyTerm(ratio: s, advantage: a)
        var rowSum = 0.0
        var throughRatio = 0.0  // sum over tokens of d L_t / d s
        for j in start..<end {
            let keep = entropyThreshold.map { inputs.entropy![j] >= $0 } ?? true
            let samplerWeight = inputs.samplerWeight?[j] ?? 1
            let kept = keep && samplerWeight != 0
            var loss = kept ? policyLoss * samplerWeight : 0
            if kept { throughRatio += dPolicy * samplerWeight }
            var dLogp = 0.0
            var kl = 0.0
            if let ref = inputs.refLogp {
                let (k, dk) = klTerm(logp: inputs.logp[j], ref: ref[j])
                kl = biasCorrection ? k * s : k
                if addKL {
                    loss += beta * kl
                    dLogp = beta * (biasCorrection ? dk * s : dk)
                    if biasCorrection { throughRatio += beta * k }
                }
                sums.kl += kl
            }
            rowSum += loss
            outputs.grad[j] = w * dLogp
            if let entropy = inputs.entropy { sums.entropy += entropy[j] }
            outputs.ratio?[j] = s
            outputs.clippedRatio?[j] = Swift.min(Swift.max(s, lowerBound), upperBound)
            outputs.branch?[j] = branch
            outputs.kl?[j] = kl
            outputs.keep?[j] = keep
            outputs.perTokenLoss?[j] = loss
            outputs.weight?[j] = w
        }
        let shared = w * throughRatio * s / Double(Swift.max(n, 1))
        for j in start..<end { outputs.grad[j] += shared }
        if s < lowerBound && a < 0 { sums.clipLow += 1; sums.clipRegion += 1 }
        if s > upperBound && a > 0 { sums.clipHigh += 1; sums.clipRegion += 1 }
        sums.clipUnits += 1
        sums.loss += rowSum * scale
    }
}
