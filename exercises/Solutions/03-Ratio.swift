import GRPO

extension Reference {
    public static func importanceRatio(logp: Scalar, oldLogp: Double) throws -> Scalar {
        Scalar.exp(logp - oldLogp)
    }
}
