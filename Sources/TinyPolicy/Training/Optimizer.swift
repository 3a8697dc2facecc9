#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which update rule turns d loss / d theta into a step.
public enum OptimizerKind: String, Sendable, Codable, CaseIterable {
    /// theta -= lr * m_hat / (sqrt(v_hat) + eps): every parameter moves by about lr, whatever the
    /// size of its gradient (the usual choice, and TRL's AdamW without weight decay).
    case adam
    /// theta -= lr * g: steps proportional to the gradient, so a loss scaled by 1/N moves theta N
    /// times less (lesson 07 shows it better than Adam, which undoes such scales).
    case sgd
}

/// The optimizer and its state (Adam's moments and step count), all saved with a session.
///
/// Adam, with g the gradient and k the number of steps taken (k = 1 on the first):
///
///     m = beta1 m + (1 - beta1) g,          v = beta2 v + (1 - beta2) g^2
///     theta -= lr * (m / (1 - beta1^k)) / ( sqrt(v / (1 - beta2^k)) + eps )
///
/// beta1 = 0.9, beta2 = 0.999, eps = 1e-8 (PyTorch's defaults).
public struct Optimizer: Sendable, Equatable, Codable {
    public var kind: OptimizerKind {
        didSet { if kind != oldValue { resetMoments() } }
    }
    /// lr: may be changed between steps; Adam's moments are kept.
    public var learningRate: Double
    public static let beta1 = 0.9
    public static let beta2 = 0.999
    public static let epsilon = 1e-8
    /// m, Adam's running mean of gradients (empty until the first Adam step).
    public private(set) var firstMoment: [Double] = []
    /// v, Adam's running mean of squared gradients.
    public private(set) var secondMoment: [Double] = []
    /// k, Adam steps taken since the moments were reset.
    public private(set) var stepCount = 0

    public init(kind: OptimizerKind, learningRate: Double) {
        self.kind = kind
        self.learningRate = learningRate
    }

    /// Forgets Adam's moments (done when the optimizer kind changes).
    public mutating func resetMoments() {
        firstMoment = []
        secondMoment = []
        stepCount = 0
    }

    /// Applies one update to `parameters` in place.
    public mutating func step(_ parameters: inout [Double], gradient: [Double]) {
        precondition(parameters.count == gradient.count, "one gradient value per parameter")
        switch kind {
        case .sgd:
            for k in parameters.indices { parameters[k] -= learningRate * gradient[k] }
        case .adam:
            if firstMoment.count != parameters.count {
                firstMoment = [Double](repeating: 0, count: parameters.count)
                secondMoment = firstMoment
                stepCount = 0
            }
            stepCount += 1
            let (beta1, beta2) = (Self.beta1, Self.beta2)
            let correction1 = 1 - pow(beta1, Double(stepCount))
            let correction2 = 1 - pow(beta2, Double(stepCount))
            for k in parameters.indices {
                let g = gradient[k]
                firstMoment[k] = beta1 * firstMoment[k] + (1 - beta1) * g
                secondMoment[k] = beta2 * secondMoment[k] + (1 - beta2) * g * g
                let mHat = firstMoment[k] / correction1
                let vHat = secondMoment[k] / correction2
                parameters[k] -= learningRate * mHat / (sqrt(vHat) + Self.epsilon)
            }
        }
    }
}
