/// Skywork-OR1's adaptive entropy control, as TRL 1.16 runs it (`use_adaptive_entropy`): a
/// trainer keeps a coefficient and the entropy its last optimizer step measured, applies the
/// coefficient only while that entropy is at most `entropy_target`, and after each step moves the
/// coefficient by `entropy_coef_delta` (up when the entropy is at or below the target, down
/// otherwise) within [`entropy_coef_min`, `entropy_coef_max`]. The first step applies no bonus (no
/// entropy measured yet). Without `use_adaptive_entropy` the coefficient is `entropy_coef`
/// throughout. Lesson 05.
public struct AdaptiveEntropy: Sendable, Equatable, Codable {
    /// The coefficient the controller holds (starts at `entropy_coef`).
    public var coefficient: Double
    /// The mean entropy the last step measured over the tokens the policy term acted on; nil
    /// before the first step (TRL starts it at inf, which no target reaches).
    public var lastEntropy: Double?

    public init(config: GRPOConfig) {
        coefficient = config.entropyCoef
        lastEntropy = nil
    }

    /// The coefficient the next step's loss uses.
    public func appliedCoefficient(_ config: GRPOConfig) -> Double {
        guard config.useAdaptiveEntropy else { return config.entropyCoef }
        guard let lastEntropy, lastEntropy <= config.entropyTarget else { return 0 }
        return coefficient
    }

    /// After an optimizer step that measured `entropy`: the coefficient for the next one.
    public mutating func update(measured entropy: Double, _ config: GRPOConfig) {
        guard config.useAdaptiveEntropy else { return }
        coefficient = entropy <= config.entropyTarget
            ? min(coefficient + config.entropyCoefDelta, config.entropyCoefMax)
            : max(coefficient - config.entropyCoefDelta, config.entropyCoefMin)
        lastEntropy = entropy
    }

    /// The entropy a step measures: the mean over the tokens the policy term acted on (the loss
    /// counts them and the entropy mask keeps them), as the bonus averages it.
    public static func measure(_ batch: Batch, _ breakdown: Breakdown) -> Double {
        var sum = 0.0, count = 0.0
        for (i, c) in batch.completions.enumerated() {
            guard let entropy = c.entropy else { continue }
            for t in 0..<c.length where breakdown.acts(row: i, token: t) {
                sum += entropy[t]
                count += 1
            }
        }
        return sum / max(count, 1)
    }
}
