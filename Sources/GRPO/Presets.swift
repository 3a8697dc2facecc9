/// Known set-ups in one word. Each starts from `GRPOConfig()` (the DeepSeekMath formula) and
/// changes only what that set-up changes. Lesson: `lessons/README.md` lists where each is used.
public enum Preset: String, Sendable, CaseIterable {
    /// DeepSeekMath / "Deconstructing the GRPO Loss": per-sequence token mean, epsilon 0.2,
    /// beta 0.04, k3, sample std with epsilon 1e-4. The default.
    case deepseekmath
    /// TRL 1.16's `GRPOConfig` defaults: `dapo` loss, beta 0, bias-corrected KL, scale by group std.
    case trl
    /// DAPO: clip-higher (epsilon 0.2 below, 0.28 above), token-level mean, no KL.
    case dapo
    /// Dr. GRPO: no std division, a constant normalizer (B * max_completion_length), no KL.
    case drGRPO = "dr_grpo"
    /// GSPO: one ratio per completion (geometric mean of token ratios), epsilon 3e-4 / 4e-4, no KL.
    case gspo
    /// CISPO (MiniMax-M1, ScaleRL): the detached ratio capped at epsilon_high 5, token mean, no KL.
    case cispo
    /// SAPO: the soft gate with the paper's temperatures (1 where A > 0, 1.05 otherwise), no KL.
    case sapo
    /// LUSPO, GSPO's length-unbiased variant: GSPO's sequence ratio and widths, per-sequence sums.
    case luspo
    /// VESPO: the gamma weight of the sequence ratio with TRL's k and lambda (2, 3 / 3, 2), no KL.
    case vespo

    public var summary: String {
        switch self {
        case .deepseekmath: "grpo loss, epsilon 0.2, beta 0.04, k3 (the paper's formula; default)"
        case .trl: "TRL 1.16 defaults: dapo loss, beta 0, bias-corrected KL"
        case .dapo: "clip-higher 0.2/0.28, token-level mean, beta 0"
        case .drGRPO: "no std, divide by B * max_completion_length, beta 0"
        case .gspo: "sequence-level ratio, epsilon 3e-4/4e-4, beta 0"
        case .cispo: "cispo loss, ratio capped at epsilon_high 5, beta 0"
        case .sapo: "sapo loss, temperatures 1 (A > 0) / 1.05, beta 0"
        case .luspo: "luspo loss, GSPO's sequence ratio and epsilon 3e-4/4e-4, beta 0"
        case .vespo: "vespo loss, k/lambda 2/3 (A >= 0) and 3/2, beta 0"
        }
    }

    public var config: GRPOConfig {
        var c = GRPOConfig()
        switch self {
        case .deepseekmath:
            break
        case .trl:
            c.lossType = .dapo
            c.beta = 0
            c.useBiasCorrectionKL = true
        case .dapo:
            c.lossType = .dapo
            c.epsilonHigh = 0.28
            c.beta = 0
        case .drGRPO:
            c.lossType = .drGRPO
            c.scaleRewards = .none
            c.beta = 0
        case .gspo:
            c.useGSPORatio()
        case .luspo:
            c.useGSPORatio()
            c.lossType = .luspo
        case .cispo:
            c.lossType = .cispo
            c.epsilonHigh = 5
            c.beta = 0
        case .sapo:
            c.lossType = .sapo
            c.beta = 0
        case .vespo:
            c.lossType = .vespo
            c.vllmImportanceSamplingMode = .tokenTruncate  // VESPO takes the token sampler modes only
            c.beta = 0
        }
        return c
    }
}

extension GRPOConfig {
    /// GSPO's set-up: one ratio per completion, its clip widths 3e-4 / 4e-4, no KL.
    fileprivate mutating func useGSPORatio() {
        importanceSamplingLevel = .sequence
        epsilon = 3e-4
        epsilonHigh = 4e-4
        beta = 0
    }
}
