import GRPO

extension Reference {
    public static func policyGradientLoss(logp: Scalar, advantage: Double) throws -> Scalar {
        -(logp * advantage)
    }
}
