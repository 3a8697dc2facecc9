import GRPO

extension Reference {
    public static func klEstimate(logp: Scalar, refLogp: Double, estimator: GRPOConfig.KLEstimator) throws -> Scalar {
        let d = refLogp - logp
        switch estimator {
        case .k1: return -d
        case .k2: return d * d / 2
        case .k3: return Scalar.exp(d) - d - 1
        case .abs: return Scalar.abs(d)
        }
    }
}
