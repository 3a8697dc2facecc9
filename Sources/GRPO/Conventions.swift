/// The types of the options where verl 0.9.1 and TRL 1.16 compute differently (`GRPOConfig`'s
/// fields after the sampler options). Each is stated once here; lesson 14 compares them on one
/// batch.
extension GRPOConfig {
    /// What `delta` does to the clip-and-min objective. Lesson 04.
    public enum DeltaForm: String, Sendable, CaseIterable {
        /// TRL: min(min(r, delta) A, clip(r) A) for every token.
        case cap
        /// verl's dual clip (Ye et al. 2019, `clip_ratio_c`): for A < 0 only,
        /// max(min(r A, clip(r) A), delta A), so a negative token's loss is at most -delta A.
        case dualClip = "dual_clip"
    }

    /// CISPO's detached weight. Lesson 05.
    public enum CISPOClip: String, Sendable, CaseIterable {
        /// TRL: min(r, epsilon_high), epsilon_high an absolute cap.
        case cap
        /// verl: clip(r, 1 - epsilon, 1 + epsilon_high), epsilon and epsilon_high widths.
        case range
    }

    /// How GSPO's sequence ratio s_i passes its gradient back. Lesson 10.
    public enum SequenceRatioGradient: String, Sendable, CaseIterable {
        /// TRL: s_i = exp(mean log-ratio), so every counted token gets s_i / m_i of each token's term.
        case shared
        /// verl: s_it = exp(logp_t - sg(logp_t) + sg(mean)), so each token's term reaches its own logp, times s_i.
        case perToken = "per_token"
    }

    /// What the entropy bonus's coefficient multiplies. Lesson 05.
    public enum EntropyAggregation: String, Sendable, CaseIterable {
        /// TRL: the mean entropy of the tokens the policy term acts on, whatever the loss type.
        case actingTokenMean = "acting_token_mean"
        /// verl: the entropies aggregated as the loss aggregates its tokens (`entropy_loss`,
        /// `agg_loss(entropy, response_mask, loss_agg_mode)`), over the tokens the loss counts.
        case lossAggregation = "loss_agg_mode"
    }

    /// How a token count that divides is kept from 0. Lesson 07.
    public enum CountDivisor: String, Sendable, CaseIterable {
        /// TRL: max(m_i, 1) and max(N, 1).
        case atLeastOne = "max_1"
        /// verl: m_i + 1e-8 per sequence. The batch's N stays at least 1: verl's token-mean
        /// divides by N as it is, so a batch with no counted token gives it 0/0 = NaN, where
        /// this gives 0 (`tools/README.md` lists it among the differences kept on purpose).
        case plusEpsilon = "plus_1e-8"
    }
}
