import GRPO

extension Reference {
    public static func aggregate(_ perTokenLoss: [[Scalar]], aggregation: GRPOConfig.Aggregation,
                                 maxCompletionLength: Int) throws -> Scalar {
        let b = Double(perTokenLoss.count)
        let n = Double(perTokenLoss.reduce(0) { $0 + $1.count })
        var total = Scalar(0)
        for row in perTokenLoss {
            let w: Double = switch aggregation {
            case .sequenceMeanTokenMean: 1 / (b * Double(row.count))
            case .tokenMean: 1 / n
            case .constantNormalizer: 1 / (b * Double(maxCompletionLength))
            case .sequenceMeanTokenSum: 1 / b
            default: 0  // not asked by the exercise
            }
            for loss in row { total = total + loss * w }
        }
        return total
    }
}
