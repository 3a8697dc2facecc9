/// What verl 0.9.1's actor logs for a batch, under verl's names, from the `Breakdown` of the
/// loss `VerlOptions.lossConfig` describes (either path's). verl's token means are
/// `masked_mean`: sum / (loss tokens + 1e-8). Lesson 11.
public enum VerlMetrics {
    /// Every name `metrics` may return.
    public static let names = ["actor/pg_clipfrac", "actor/ppo_kl", "actor/pg_clipfrac_lower", "actor/pg_loss",
                               "actor/entropy_loss", "actor/kl_loss", "actor/kl_coef"]

    /// The policy loss's metrics (`actor/pg_clipfrac`, `actor/ppo_kl`, `actor/pg_clipfrac_lower`),
    /// `actor/pg_loss`, and `actor/kl_loss` / `actor/kl_coef` with `use_kl_loss` (the trainer
    /// prefixes `actor/` to the actor's `kl_loss` and `kl_coef`).
    public static func metrics(_ b: Breakdown, batch: Batch, options: VerlOptions) -> [(name: String, value: Double)] {
        var tokens = 0.0, negativeApproxKL = 0.0, logRatio = 0.0, clipped = 0.0, clippedLower = 0.0
        var policy = 0.0, kl = 0.0, entropy = 0.0
        let c = b.config
        for (row, completion) in batch.completions.enumerated() {
            let a = b.advantages[row]
            var policySum = 0.0, klSum = 0.0, entropySum = 0.0
            for t in 0..<completion.length where b.counts(row: row, token: t) {
                tokens += 1
                logRatio += completion.logp[t] - completion.oldLogp[t]
                negativeApproxKL += min(max(completion.logp[t] - completion.oldLogp[t], -20), 20)
                let r = b.ratio[row, t]
                switch options.lossMode {
                case .cispo:
                    if r != c.clip(r) { clipped += 1 }
                case .dppoTV, .dppoKL:
                    // Outside the trust region, and (inside it) a weight capped at clip_ratio_c.
                    let valid = Naive.dppoKeeps(logp: completion.logp[t], oldLogp: completion.oldLogp[t], advantage: a, config: c)
                    if !valid { clipped += 1 }
                    if valid && r > options.clipRatioC { clippedLower += 1 }
                case .gpg, .dro, .sapo:
                    break  // sapo logs its clip fractions as 0
                case .gspo:
                    let terms = Naive.surrogateTerms(ratio: r, advantage: a, config: c)
                    if terms.clipped < terms.unclipped { clipped += 1 }
                default:
                    let terms = Naive.surrogateTerms(ratio: r, advantage: a, config: c)
                    if terms.clipped < terms.unclipped { clipped += 1 }
                    if a < 0, min(terms.unclipped, terms.clipped) < a * options.clipRatioC { clippedLower += 1 }
                }
                let klT = b.kl?[row, t] ?? 0
                policySum += b.perTokenLoss[row, t] - c.beta * klT
                klSum += klT
                entropySum += completion.entropy?[t] ?? 0
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
        case .dro: out = [("actor/ppo_kl", -logRatio / n)]  // its log-ratio is not clamped
        case .gspo: out = [("actor/pg_clipfrac", clipped / n), ("actor/ppo_kl", -logRatio / n), ("actor/pg_clipfrac_lower", 0)]
        default:
            out = [("actor/pg_clipfrac", clipped / n), ("actor/ppo_kl", -negativeApproxKL / n),
                   ("actor/pg_clipfrac_lower", clippedLower / n)]
        }
        out.append(("actor/pg_loss", policy))
        // agg(entropy), the same aggregate the loss subtracts entropy_coeff times.
        if options.reportsEntropy { out.append(("actor/entropy_loss", entropy)) }
        if options.useKLLoss { out += [("actor/kl_loss", kl), ("actor/kl_coef", options.klLossCoef)] }
        return out
    }
}
