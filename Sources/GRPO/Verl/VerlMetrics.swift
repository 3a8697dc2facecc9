#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What verl 0.9.1's actor logs for a batch, under verl's names, from the `Breakdown` of the
/// loss `VerlOptions.lossConfig` describes (either path's). verl's token means are
/// `masked_mean`: sum / (loss tokens + 1e-8). Lesson 14.
public enum VerlMetrics {
    /// Every name `metrics` may return.
    public static let names = ["actor/pg_clipfrac", "actor/ppo_kl", "actor/pg_clipfrac_lower", "actor/pg_loss",
                               "actor/entropy_loss", "actor/kl_loss", "actor/kl_coef"] + rolloutNames + rolloutNames.map { "actor/" + $0 }

    /// The trainer's `rollout_corr/*` metrics (`actor/rollout_corr/*` in bypass_mode).
    static let rolloutNames = offPolicyNames + VerlRolloutCorrection.metricNames + VerlRejectionSampling.metricNames

    /// The trainer's `rollout_corr/*` metrics of how far the rollout engine's log-probs are from
    /// the trainer's (`compute_offpolicy_metrics`), for a batch with `sampler_logp`.
    public static let offPolicyNames = [
        "training_ppl", "training_log_ppl", "kl", "k3_kl", "rollout_ppl", "rollout_log_ppl", "log_ppl_diff",
        "log_ppl_abs_diff", "log_ppl_diff_max", "log_ppl_diff_min", "ppl_ratio", "chi2_token", "chi2_seq",
    ].map { "rollout_corr/" + $0 }

    /// The policy loss's metrics (`actor/pg_clipfrac`, `actor/ppo_kl`, `actor/pg_clipfrac_lower`),
    /// `actor/pg_loss`, and `actor/kl_loss` / `actor/kl_coef` with `use_kl_loss` (the trainer
    /// prefixes `actor/` to the actor's `kl_loss` and `kl_coef`); with `sampler_logp`, the
    /// trainer's `rollout_corr/*`. `batch` is the batch as given (`VerlOptions.lossInputs` before
    /// it: the response masks before rejection); the loss tokens are `b`'s.
    public static func metrics(_ b: Breakdown, batch: Batch, options: VerlOptions) -> [(name: String, value: Double)] {
        var tokens = 0.0, negativeApproxKL = 0.0, logRatio = 0.0, absLogRatio = 0.0, clipped = 0.0, clippedLower = 0.0
        let clipCovKeep = options.lossMode == .clipCov ? try? options.clipCovKeep(withAdvantages(batch, b), config: b.config) : nil
        var policy = 0.0, kl = 0.0, entropy = 0.0
        let c = b.config
        // bypass_mode's rejection narrows the mask the policy loss's own metrics average over.
        let policyMask = options.lossMode == .bypassMode && options.rolloutRS != nil
            ? try? VerlRejectionSampling.rejection(options.rolloutCorrectionView(batch), options: options).masks : nil
        for (row, completion) in batch.completions.enumerated() {
            let a = b.advantages[row]
            // bypass_mode's old policy is the rollout engine's.
            let old = options.lossMode == .bypassMode ? completion.samplerLogp ?? completion.oldLogp : completion.oldLogp
            var policySum = 0.0, klSum = 0.0, entropySum = 0.0
            for t in 0..<completion.length where b.counts(row: row, token: t) {
                let klT = b.kl?[row, t] ?? 0
                policySum += b.perTokenLoss[row, t] - c.beta * klT
                klSum += klT
                entropySum += completion.entropy?[t] ?? 0
                guard policyMask?[row][t] ?? true else { continue }
                tokens += 1
                logRatio += completion.logp[t] - old[t]
                absLogRatio += abs(completion.logp[t] - old[t])
                negativeApproxKL += min(max(completion.logp[t] - old[t], -20), 20)
                let r = b.ratio[row, t]
                switch options.lossMode {
                case .cispo:
                    if r != c.clip(r) { clipped += 1 }
                case .dppoTV, .dppoKL:
                    // Outside the trust region, and (inside it) a weight capped at clip_ratio_c.
                    let valid = Naive.dppoKeeps(logp: completion.logp[t], oldLogp: completion.oldLogp[t], advantage: a, config: c)
                    if !valid { clipped += 1 }
                    if valid && r > options.clipRatioC { clippedLower += 1 }
                case .gpg, .dro, .sapo, .klCov:
                    break  // sapo logs its clip fractions as 0
                case .clipCov:
                    if clipCovKeep?[row][t] == 0 { clipped += 1 }  // the tokens clip_cov dropped
                case .gspo:
                    let terms = Naive.surrogateTerms(ratio: r, advantage: a, config: c)
                    if terms.clipped < terms.unclipped { clipped += 1 }
                case .geoMean:
                    // A log-ratio outside [-eps, eps_high], counted by the sign of A.
                    let x = completion.logp[t] - old[t]
                    let outside = x != min(max(x, -c.epsilon), c.resolvedEpsilonHigh)
                    if outside && a > 0 { clipped += 1 }
                    if outside && a < 0 { clippedLower += 1 }
                default:
                    let terms = Naive.surrogateTerms(ratio: r, advantage: a, config: c)
                    if terms.clipped < terms.unclipped { clipped += 1 }
                    if a < 0, min(terms.unclipped, terms.clipped) < a * options.clipRatioC { clippedLower += 1 }
                }
            }
            policy += b.weight[row] * policySum
            // The KL and entropy terms follow loss_agg_mode even where the policy term does not (sapo).
            let regularizerWeight = (b.regularizerWeight ?? b.weight)[row]
            kl += regularizerWeight * klSum
            entropy += regularizerWeight * entropySum
        }
        let n = tokens + 1e-8
        var out: [(name: String, value: Double)]
        switch options.lossMode {
        case .gpg: out = []  // verl's gpg loss logs no metric of its own
        case .bypassMode where options.lossType == "reinforce": out = [("actor/ppo_kl", -logRatio / n)]
        case .dro: out = [("actor/ppo_kl", -logRatio / n)]  // its log-ratio is not clamped
        case .klCov: out = [("actor/ppo_kl", absLogRatio / n)]  // the mean |log r|, not its mean
        case .clipCov: out = [("actor/pg_clipfrac", clipped / n), ("actor/ppo_kl", -logRatio / n)]
        case .gspo: out = [("actor/pg_clipfrac", clipped / n), ("actor/ppo_kl", -logRatio / n), ("actor/pg_clipfrac_lower", 0)]
        case .geoMean: out = [("actor/pg_clipfrac", clipped / n), ("actor/ppo_kl", -logRatio / n), ("actor/pg_clipfrac_lower", clippedLower / n)]
        default:
            out = [("actor/pg_clipfrac", clipped / n), ("actor/ppo_kl", -negativeApproxKL / n),
                   ("actor/pg_clipfrac_lower", clippedLower / n)]
        }
        out.append(("actor/pg_loss", policy))
        // agg(entropy), the same aggregate the loss subtracts entropy_coeff times.
        if options.reportsEntropy { out.append(("actor/entropy_loss", entropy)) }
        if options.useKLLoss { out += [("actor/kl_loss", kl), ("actor/kl_coef", options.klLossCoef)] }
        let view = options.rolloutCorrectionView(batch)
        var rollout: [(name: String, value: Double)] = []
        if batch.hasSampler { rollout += offPolicyMetrics(view) }
        if batch.hasSampler, let correction = try? VerlRolloutCorrection.weights(view, options: options) { rollout += correction.metrics }
        if batch.hasSampler, let rejection = try? VerlRejectionSampling.rejection(view, options: options) { rollout += rejection.metrics }
        // bypass_mode computes them inside the actor's loss, so the trainer logs them under actor/.
        out += options.lossMode == .bypassMode ? rollout.map { (name: "actor/" + $0.name, value: $0.value) } : rollout
        return out
    }

    /// `batch` with the advantages `b` used (clip_cov's choice reads them).
    static func withAdvantages(_ batch: Batch, _ b: Breakdown) -> Batch {
        var out = batch
        var row = 0
        for g in out.groups.indices {
            for i in out.groups[g].completions.indices {
                out.groups[g].completions[i].advantage = b.advantages[row]
                row += 1
            }
        }
        return out
    }

    /// verl's `compute_offpolicy_metrics` with old = old_logp (pi_train) and rollout = sampler_logp
    /// over each completion's response tokens (before rejection): per-sequence means (sum / (m + 1e-8), so a completion
    /// without loss tokens counts as 0) and their batch means; rho_t = exp(old - rollout), its
    /// log clamped to +-20 for the chi^2 estimates (token: mean rho^2 - 1; sequence: the mean of
    /// exp(2 sum_t log rho_t) - 1).
    static func offPolicyMetrics(_ batch: Batch) -> [(name: String, value: Double)] {
        var tokens = 0.0, kl = 0.0, k3 = 0.0, rhoSquared = 0.0
        var trainingMeans: [Double] = [], rolloutMeans: [Double] = [], sequenceRhoSquared: [Double] = []
        for c in batch.completions {
            let sampler = c.samplerLogp ?? c.oldLogp
            var oldSum = 0.0, rolloutSum = 0.0, logRatioSum = 0.0, m = 0.0
            for t in 0..<c.length where c.mask?[t] ?? true {
                let logRatio = c.oldLogp[t] - sampler[t]
                m += 1
                oldSum += c.oldLogp[t]
                rolloutSum += sampler[t]
                logRatioSum += logRatio
                kl += -logRatio
                k3 += expm1(logRatio) - logRatio
                rhoSquared += exp(2 * min(max(logRatio, -20), 20))
            }
            tokens += m
            trainingMeans.append(oldSum / (m + 1e-8))
            rolloutMeans.append(rolloutSum / (m + 1e-8))
            sequenceRhoSquared.append(exp(2 * min(max(logRatioSum, -20), 20)))
        }
        let n = tokens + 1e-8, rows = Double(max(trainingMeans.count, 1))
        func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / rows }
        let diff = zip(rolloutMeans, trainingMeans).map { $0 - $1 }
        let names = offPolicyNames
        let values = [
            mean(trainingMeans.map { exp(-$0) }), mean(trainingMeans.map { -$0 }), kl / n, k3 / n,
            mean(rolloutMeans.map { exp(-$0) }), mean(rolloutMeans.map { -$0 }), mean(diff), mean(diff.map(abs)),
            diff.max() ?? 0, diff.min() ?? 0, mean(diff.map(exp)), rhoSquared / n - 1, mean(sequenceRhoSquared) - 1,
        ]
        return Array(zip(names, values)).map { (name: $0.0, value: $0.1) }
    }
}
