#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-token math of `LossKernel`, four tokens at a time: the objectives, the masks, the KL
/// term, and the lane bookkeeping.
extension LossKernel {
    /// A token's policy term (loss sign) and its derivatives: with respect to the ratio (which
    /// reaches logp through s at sequence level) and with respect to logp directly (CISPO's and
    /// VESPO's detached weights times logp).
    struct Term: MaskedTerm {
        var loss: Lanes
        var dRatio: Lanes
        var dLogp: Lanes

        @_transparent
        mutating func drop(where dropped: LaneMask) {
            loss.replace(with: 0, where: dropped)
            dRatio.replace(with: 0, where: dropped)
            dLogp.replace(with: 0, where: dropped)
        }

        @_transparent
        mutating func weigh(by w: Lanes) {
            loss *= w
            dRatio *= w
            dLogp *= w
        }
        @_transparent
        mutating func add(loss l: Lanes, dLogp d: Lanes) {
            loss += l
            dLogp += d
        }
    }

    /// Token level: the term and its whole derivative with respect to logp (through r, whose own
    /// derivative is r, and straight to logp for the detached weights), so the token pass carries
    /// two lanes of it where the sequence level needs three.
    struct TokenTerm: MaskedTerm {
        var loss: Lanes
        var dLogp: Lanes

        @_transparent
        mutating func drop(where dropped: LaneMask) {
            loss.replace(with: 0, where: dropped)
            dLogp.replace(with: 0, where: dropped)
        }

        @_transparent
        mutating func weigh(by w: Lanes) {
            loss *= w
            dLogp *= w
        }
        @_transparent
        mutating func add(loss l: Lanes, dLogp d: Lanes) {
            loss += l
            dLogp += d
        }
    }

    /// `objectiveTerm` at the token's own ratio, its derivative carried on to logp through
    /// d r / d logp (r itself, or 0 where `log_ratio_clamp` held the log-ratio).
    @_transparent
    func tokenTerm(ratio r: Lanes, dRatioDLogp dr: Lanes, logp: Lanes, oldLogp: @autoclosure () -> Lanes, _ row: Row) -> TokenTerm {
        switch objective {
        case .clipMin:
            let (loss, dRatio) = clipMinTerm(ratio: r, advantage: row.advantage)
            return TokenTerm(loss: loss, dLogp: Self.chain(dRatio, dr))
        case .sapo:
            let term = sapoTerm(ratio: r, advantage: row.advantage, temperature: row.sapoTemperature)
            return TokenTerm(loss: term.loss, dLogp: Self.chain(term.dRatio, dr))
        case .unclipped:
            // -r A: d / d r = -A (0 with A = 0, whatever the ratio).
            if row.advantage == 0 { return TokenTerm(loss: Lanes(repeating: 0), dLogp: Lanes(repeating: 0)) }
            return TokenTerm(loss: -(r * row.advantage), dLogp: Self.chain(Lanes(repeating: -row.advantage), dr))
        case .cispo, .vespo, .reinforce, .dro, .dppoTV, .dppoKL, .geoMean:
            let term = objectiveTerm(ratio: r, logp: logp, oldLogp: oldLogp(), row)
            return TokenTerm(loss: term.loss, dLogp: term.dLogp)
        }
    }

    /// -objective at ratios r under the loss type's objective (`Naive.policyObjective`).
    @_transparent
    func objectiveTerm(ratio r: Lanes, logp: Lanes, oldLogp: Lanes, _ row: Row) -> Term {
        let zero = Lanes(repeating: 0)
        let a = row.advantage
        switch objective {
        case .clipMin:
            let (loss, dRatio) = clipMinTerm(ratio: r, advantage: a)
            return Term(loss: loss, dRatio: dRatio, dLogp: zero)
        case .cispo:
            // -sg(c(r)) A logp with c(r) = clamp(r, cispoLow, cispoHigh): d / d logp = -c(r) A,
            // nothing through r.
            let c = Lanes.minimum(Lanes.maximum(r, Lanes(repeating: cispoLow)), Lanes(repeating: cispoHigh)) * a
            return Term(loss: -(c * logp), dRatio: zero, dLogp: -c)
        case .sapo:
            return sapoTerm(ratio: r, advantage: a, temperature: row.sapoTemperature)
        case .vespo:
            // -sg(phi) A logp, phi one number per row.
            let c = Lanes(repeating: row.vespoWeight * a)
            return Term(loss: -(c * logp), dRatio: zero, dLogp: -c)
        case .reinforce:
            // -A logp: d / d logp = -A.
            return Term(loss: -(logp * a), dRatio: zero, dLogp: Lanes(repeating: -a))
        case .dro:
            // -(A logp - beta/2 x^2), x = logp - old_logp unclamped: d / d logp = -(A - beta x).
            let x = logp - oldLogp
            return Term(loss: -(logp * a - x * x * (0.5 * droBeta)), dRatio: zero, dLogp: -(a - droBeta * x))
        case .geoMean:
            // -A_bar s (one s per row, always sequence level): d / d s = -A_bar.
            let aBar = a * Double(row.counted) / (Double(row.counted) + 1e-8)
            return Term(loss: -(r * aBar), dRatio: Lanes(repeating: -aBar), dLogp: zero)
        case .unclipped:
            // -r A: d / d r = -A.
            if a == 0 { return Term(loss: zero, dRatio: zero, dLogp: zero) }
            return Term(loss: -(r * a), dRatio: Lanes(repeating: -a), dLogp: zero)
        case .dppoTV, .dppoKL:
            // -sg(min(r, delta)) A logp * valid: d / d logp = -min(r, delta) A valid.
            let c = (Lanes.minimum(r, Lanes(repeating: dppoCap)) * a).replacing(with: 0, where: .!dppoKeeps(logp, oldLogp, a))
            return Term(loss: -(c * logp), dRatio: zero, dLogp: -c)
        }
    }

    /// DPPO's trust region (`Naive.dppoKeeps`), lane by lane: p = exp(logp) against
    /// p_old = exp(old_logp), by the total-variation test or the Bernoulli KL's.
    @_transparent
    func dppoKeeps(_ logp: Lanes, _ oldLogp: Lanes, _ a: Double) -> LaneMask {
        let p = VectorMath.exp(logp), pOld = VectorMath.exp(oldLogp)
        let high = Lanes(repeating: epsilonHigh), low = Lanes(repeating: epsilon)
        switch objective {
        case .dppoKL:
            var kl = Lanes(repeating: 0)
            let ratioOfComplements = (1 - pOld + 1e-8) / (1 - p + 1e-8)
            for l in 0..<Lanes.scalarCount { kl[l] = log(ratioOfComplements[l]) }  // no SIMD log: lane by lane
            kl = pOld * (oldLogp - logp) + (1 - pOld) * kl
            return a > 0 ? (kl .<= high) .| (p .<= pOld) : (kl .<= low) .| (p .>= pOld)
        default:
            return a > 0 ? (p - pOld) .<= high : (p - pOld) .>= -low
        }
    }

    /// coef_2 = clamp(coef_1, 1 - epsilon, 1 + epsilon_high)
    @_transparent
    func clip(_ r: Lanes) -> Lanes {
        Lanes.minimum(Lanes.maximum(r, Lanes(repeating: lowerBound)), Lanes(repeating: upperBound))
    }

    /// The clip-and-min term -min(c1 A, c2 A) at ratios r, and its derivative with respect to r.
    /// With A = 0 both terms are 0 whatever the ratio, even one that overflowed to inf (where
    /// inf * 0 would be NaN), as in `Naive.clippedSurrogate`.
    @_transparent
    func clipMinTerm(ratio r: Lanes, advantage a: Double) -> (loss: Lanes, dRatio: Lanes) {
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
        let surrogate = Lanes.minimum(unclipped, clipped)
        if let floor = dualClip, a < 0 { return dualClipTerm(surrogate, dMin: dMin, floor: floor * a, advantage: a) }
        return (-surrogate, -a * dMin)
    }

    /// verl's dual clip for A < 0: -max(surrogate, delta A) (`Naive.dualClipFloor`), so the
    /// gradient goes to the surrogate where it is larger, nowhere where delta A is, half on a tie
    /// (torch.minimum of the loss-sign terms).
    @_transparent
    func dualClipTerm(_ surrogate: Lanes, dMin: Lanes, floor: Double, advantage a: Double) -> (loss: Lanes, dRatio: Lanes) {
        let f = Lanes(repeating: floor)
        var dMax = dMin.replacing(with: 0, where: f .> surrogate)
        dMax.replace(with: 0.5 * dMin, where: f .== surrogate)
        return (-Lanes.maximum(surrogate, f), -a * dMax)
    }

    /// The lanes of tokens t ..< t + count whose log-ratio `log_ratio_clamp` holds (outside
    /// [-c, c], so no gradient passes through the ratio); nil without the clamp.
    @_transparent
    func heldByClamp(_ inputs: RowInputs, _ t: Int, _ count: Int) -> LaneMask? {
        guard let c = logRatioClamp else { return nil }
        let x = load(inputs.logp, t, count) - load(inputs.oldLogp, t, count)
        return (x .< -c) .| (x .> c)
    }

    /// A log-ratio clamped into [-c, c] with `log_ratio_clamp` c, as it is otherwise.
    @_transparent
    func clampLogRatio(_ x: Lanes) -> Lanes {
        guard let c = logRatioClamp else { return x }
        return Lanes.minimum(Lanes.maximum(x, Lanes(repeating: -c)), Lanes(repeating: c))
    }

    /// SAPO's term -gate(r) A with gate(r) = sigmoid(tau (r - 1)) 4 / tau, and its derivative
    /// -4 A sigmoid'(x) with x = tau (r - 1). sigmoid and sigmoid' come from e = exp(-|x|), as in
    /// `Scalar.sigmoid`: 1 / (1 + e) (or e / (1 + e) for x < 0) and e / (1 + e)^2.
    @_transparent
    func sapoTerm(ratio r: Lanes, advantage a: Double, temperature tau: Double) -> Term {
        let x = (r - 1) * tau
        let negative = x .< 0
        let e = VectorMath.exp(x.replacing(with: -x, where: .!negative))
        let onePlusE = 1 + e
        let sigmoid = (1 / onePlusE).replacing(with: e / onePlusE, where: negative)
        let gate = sigmoid * 4 / tau
        let slope = e / (onePlusE * onePlusE) * 4  // d gate / d r
        return Term(loss: -(gate * a), dRatio: -(slope * a), dLogp: Lanes(repeating: 0))
    }

    /// + k |logp - old_logp| at the tokens with a log-ratio penalty (`Naive.logRatioPenalty`):
    /// d / d logp = k sign(logp - old_logp), 0 at 0 (torch.abs). Before the masks and weights,
    /// which act on the whole policy term.
    @_transparent
    func penalize<T: MaskedTerm>(_ term: inout T, _ row: Row, _ t: Int, _ count: Int, logp: Lanes) {
        guard let penalty = row.inputs.logRatioPenalty else { return }
        let k = load(penalty, t, count), x = logp - load(row.inputs.oldLogp, t, count)
        let zero = Lanes(repeating: 0), one = Lanes(repeating: 1)
        let sign = zero.replacing(with: one, where: x .> 0).replacing(with: -one, where: x .< 0)
        let held = k .== 0  // no penalty: nothing added (not even 0 * inf)
        term.add(loss: (k * Lanes.maximum(x, -x)).replacing(with: 0, where: held), dLogp: (k * sign).replacing(with: 0, where: held))
    }

    /// * off_policy_mask (the whole row), * entropy_mask, * the sampler weight: each selects (a
    /// dropped token's term becomes exactly 0), as the naive path does. Returns the entropy mask.
    @_transparent
    func maskAndWeigh<T: MaskedTerm>(_ term: inout T, _ row: Row, _ t: Int, _ count: Int) -> LaneMask {
        if !row.keepsPolicy { term.drop(where: LaneMask(repeating: true)) }
        var keep = LaneMask(repeating: true)
        if let threshold = entropyThreshold, let entropy = row.inputs.entropy {
            keep = load(entropy, t, count) .>= threshold
            term.drop(where: .!keep)
        }
        if let weights = row.inputs.samplerWeight {
            let w = load(weights, t, count)
            term.weigh(by: w)
            term.drop(where: w .== 0)
        }
        return keep
    }

    /// The per-token KL estimate and its derivative with respect to logp, d = ref_logp - logp
    /// (`Naive.klPenalty`). `expm1OfD` is expm1(`klInput(d)`), which only k3 needs (the token
    /// pass computes it ahead). The straight-through form keeps the value and takes k2's
    /// derivative -d.
    @_transparent
    func klTerm(d: Lanes, expm1OfD: @autoclosure () -> Lanes) -> (kl: Lanes, dLogp: Lanes) {
        let (kl, dLogp): (Lanes, Lanes)
        switch estimator {
        case .k1: (kl, dLogp) = (-d, Lanes(repeating: 1))
        case .k2: (kl, dLogp) = (d * d * 0.5, -d)
        case .k3:
            let e = expm1OfD()
            (kl, dLogp) = klClamp ? clampedK3(d: d, expm1OfD: e) : (e - d, -e)
        case .abs:
            // |d|: d / d logp = -sign(d), 0 at d = 0 (torch.abs).
            let zero = Lanes(repeating: 0), one = Lanes(repeating: 1)
            (kl, dLogp) = (Lanes.maximum(d, -d), zero.replacing(with: -one, where: d .> 0).replacing(with: one, where: d .< 0))
        }
        return klStraightThrough ? (kl, -d) : (kl, dLogp)
    }

    /// What the k3 estimator's expm1 is taken of: d, or d clamped into [-20, 20] with `kl_clamp`.
    @_transparent
    func klInput(_ d: Lanes) -> Lanes {
        klClamp ? Lanes.minimum(Lanes.maximum(d, Lanes(repeating: -20)), Lanes(repeating: 20)) : d
    }

    /// verl's `low_var_kl` (`Naive.clampedK3`): k3 of d clamped into [-20, 20], the estimate
    /// clamped into [-10, 10]; no derivative where either clamp holds. `e` is expm1 of the clamped d.
    @_transparent
    func clampedK3(d: Lanes, expm1OfD e: Lanes) -> (kl: Lanes, dLogp: Lanes) {
        let estimate = e - klInput(d)
        let held = (d .< -20) .| (d .> 20) .| (estimate .< -10) .| (estimate .> 10)
        let kl = Lanes.minimum(Lanes.maximum(estimate, Lanes(repeating: -10)), Lanes(repeating: 10))
        return (kl, (-e).replacing(with: 0, where: held))
    }

    /// The lanes of tokens t ..< t + count the loss counts; nil when all four count.
    @_transparent
    func activeLanes(_ inputs: RowInputs, _ t: Int, _ count: Int) -> LaneMask? {
        // A partial load gives 0 past the row's end, so those lanes are off too.
        if let mask = inputs.lossMask { return load(mask, t, count) .!= 0 }
        return count == Lanes.scalarCount ? nil : Self.lanes(below: count)
    }

    /// The entropy bonus's sums: entropies of the tokens the policy term acts on, and how many.
    @_transparent
    func sumActingEntropy(_ row: inout Row, keep: LaneMask, active: LaneMask?, _ t: Int, _ count: Int) {
        guard sumsActingEntropy, let entropy = row.inputs.entropy else { return }
        let acting = Self.both(entropyByLossWeights ? LaneMask(repeating: true) : keep, active)
        let zero = Lanes(repeating: 0)
        row.actingEntropy += zero.replacing(with: load(entropy, t, count), where: acting)
        row.actingCount += zero.replacing(with: 1, where: acting)
    }

    /// The breakdown's KL and entropy sums over the counted tokens, and its probe of every input
    /// at tokens t ..< t + count (x - x is 0 for every finite x; missing lanes load as 0).
    @_transparent
    func record(_ row: inout Row, kl: Lanes, _ t: Int, _ count: Int, _ active: LaneMask?) {
        row.klSum += padded(kl, active)
        var probe = Self.zeroIfFinite(load(row.inputs.logp, t, count)) + Self.zeroIfFinite(load(row.inputs.oldLogp, t, count))
        if let ref = row.inputs.refLogp { probe += Self.zeroIfFinite(load(ref, t, count)) }
        if let entropy = row.inputs.entropy {
            let e = load(entropy, t, count)
            row.entropySum += padded(e, active)
            probe += Self.zeroIfFinite(e)
        }
        row.probe += probe
    }

    /// x - x: 0 where x is finite, NaN where it is inf or NaN.
    @_transparent
    static func zeroIfFinite(_ x: Lanes) -> Lanes { x - x }

    @_transparent
    func load(_ buffer: UnsafeBufferPointer<Double>, _ t: Int, _ count: Int) -> Lanes {
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
    /// get the product KL * r = exp(log KL + log r), with log KL = d for k3 (e^d dominates once it
    /// overflows), 2 log|d| - log 2 for k2 and log|d| for k1; rare, so lane by lane.
    func overflowedProduct(_ kl: Lanes, where overflowed: LaneMask, ref: Lanes, _ inputs: RowInputs,
                           _ t: Int, _ count: Int, logRatio: Lanes) -> Lanes {
        var out = kl
        let d = ref - load(inputs.logp, t, count)
        for l in 0..<count where overflowed[l] {
            let logKL: Double
            switch estimator {
            case .k1, .abs: logKL = log(d[l].magnitude)
            case .k2: logKL = 2 * log(d[l].magnitude) - M_LN2
            case .k3: logKL = d[l]
            }
            out[l] = exp(logKL + logRatio[l])
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

    /// `keep` and `active` (nil: every lane).
    @_transparent
    static func both(_ keep: LaneMask, _ active: LaneMask?) -> LaneMask {
        guard let active else { return keep }
        return keep .& active
    }

    /// `x` with the lanes the loss does not count set to 0 (nil: all lanes count).
    @_transparent
    func padded(_ x: Lanes, _ active: LaneMask?) -> Lanes {
        guard let active else { return x }
        return Lanes(repeating: 0).replacing(with: x, where: active)
    }
}

/// A policy term whose lanes the masks select away and the sampler weight scales.
protocol MaskedTerm {
    mutating func drop(where dropped: LaneMask)
    mutating func weigh(by w: Lanes)
    /// Adds a term that reaches logp directly (the log-ratio penalty).
    mutating func add(loss: Lanes, dLogp: Lanes)
}
