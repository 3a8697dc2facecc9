import GRPO

extension Reference {
    public static func clippedObjective(ratio: Scalar, advantage: Double, epsilonLow: Double, epsilonHigh: Double) throws -> Scalar {
        let clipped = Scalar.clamp(ratio, min: 1 - epsilonLow, max: 1 + epsilonHigh)
        return Scalar.minimum(ratio * advantage, clipped * advantage)
    }
}
