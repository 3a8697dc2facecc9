extension Naive {
    /// SAPO's temperature for a token: `sapo_temperature_pos` where A > 0, `_neg` otherwise
    /// (negative advantages get the sharper gate by default, 1.05 against 1).
    public static func sapoTemperature(advantage: Double, config: GRPOConfig) -> Double {
        advantage > 0 ? config.sapoTemperaturePos : config.sapoTemperatureNeg
    }

    /// SAPO's soft gate, in place of clip(r):
    ///
    ///     gate(r) = sigmoid(tau (r - 1)) * 4 / tau
    ///
    /// Its slope at r = 1 is 1, as the ratio's own, and it flattens smoothly as r leaves 1, so a
    /// token far off-policy passes a small gradient instead of none (its slope is
    /// 4 sigmoid (1 - sigmoid)). Lesson 05.
    public static func sapoGate(_ ratio: Scalar, temperature tau: Double) -> Scalar {
        Scalar.sigmoid((ratio - 1) * tau) * 4 / tau
    }

    /// SAPO (Soft Adaptive Policy Optimization), one token, objective sign: gate(r) * A.
    /// Lesson 05.
    public static func sapoObjective(ratio: Scalar, advantage: Double, config: GRPOConfig) -> Scalar {
        sapoGate(ratio, temperature: sapoTemperature(advantage: advantage, config: config)) * advantage
    }
}
