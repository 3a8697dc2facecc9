#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A number that remembers how it was made, so `backward()` can compute d(output)/d(input) for
/// every input: reverse-mode automatic differentiation on scalars, micrograd-sized.
///
/// Each operation below stores, next to its value, the local derivative of its result with
/// respect to each operand. `backward()` walks the graph from the output back to the leaves and
/// applies the chain rule: grad(input) += grad(result) * d result / d input.
/// The naive loss is written with these, so its gradient through `min` and `clamp` is not derived
/// by hand anywhere: it follows from the rules here. Lesson 12.
public final class Scalar {
    public let value: Double
    /// d(output) / d(self), filled in by `backward()` on the output.
    public private(set) var grad: Double = 0
    /// (operand, d self / d operand) for each operand.
    private let inputs: [(Scalar, Double)]

    /// A leaf: an input to differentiate with respect to (or a constant, whose grad is ignored).
    public init(_ value: Double) {
        self.value = value
        self.inputs = []
    }

    private init(_ value: Double, _ inputs: [(Scalar, Double)]) {
        self.value = value
        self.inputs = inputs
    }

    /// Sets d(self)/d(self) = 1 and sends the gradient to every node that `self` depends on.
    /// Iterative (no recursion), so a loss over many thousands of tokens does not exhaust the stack.
    public func backward() {
        var order: [Scalar] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Scalar, Bool)] = [(self, false)]
        while let (node, inputsDone) = stack.popLast() {
            if inputsDone { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for (input, _) in node.inputs where !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        for node in order { node.grad = 0 }
        grad = 1
        for node in order.reversed() where node.grad != 0 {
            // A node that receives no gradient passes none on, even through an infinite local
            // derivative (exp of an overflowed log-ratio): 0 * inf would be NaN, the math says 0.
            // Likewise a local derivative of exactly 0 (exp of an underflowed argument) passes
            // nothing on, even an infinite gradient.
            for (input, local) in node.inputs where local != 0 {
                input.grad += node.grad * local
            }
        }
    }

    // MARK: Operations, each with its derivative rule

    /// a + b: d/da = 1, d/db = 1
    public static func + (a: Scalar, b: Scalar) -> Scalar { Scalar(a.value + b.value, [(a, 1), (b, 1)]) }
    /// a + c: d/da = 1
    public static func + (a: Scalar, c: Double) -> Scalar { Scalar(a.value + c, [(a, 1)]) }
    /// c + a: d/da = 1
    public static func + (c: Double, a: Scalar) -> Scalar { Scalar(c + a.value, [(a, 1)]) }
    /// a - b: d/da = 1, d/db = -1
    public static func - (a: Scalar, b: Scalar) -> Scalar { Scalar(a.value - b.value, [(a, 1), (b, -1)]) }
    /// a - c: d/da = 1
    public static func - (a: Scalar, c: Double) -> Scalar { Scalar(a.value - c, [(a, 1)]) }
    /// c - a: d/da = -1
    public static func - (c: Double, a: Scalar) -> Scalar { Scalar(c - a.value, [(a, -1)]) }
    /// -a: d/da = -1
    public static prefix func - (a: Scalar) -> Scalar { Scalar(-a.value, [(a, -1)]) }
    /// a * b: d/da = b, d/db = a
    public static func * (a: Scalar, b: Scalar) -> Scalar { Scalar(a.value * b.value, [(a, b.value), (b, a.value)]) }
    /// a * c: d/da = c
    public static func * (a: Scalar, c: Double) -> Scalar { Scalar(a.value * c, [(a, c)]) }
    /// c * a: d/da = c
    public static func * (c: Double, a: Scalar) -> Scalar { Scalar(c * a.value, [(a, c)]) }
    /// a / c: d/da = 1 / c
    public static func / (a: Scalar, c: Double) -> Scalar { Scalar(a.value / c, [(a, 1 / c)]) }

    /// exp(a): d/da = exp(a)
    public static func exp(_ a: Scalar) -> Scalar {
        let e = libmExp(a.value)
        return Scalar(e, [(a, e)])
    }

    /// exp(a) - 1, accurate for tiny a: d/da = exp(a)
    public static func expm1(_ a: Scalar) -> Scalar {
        Scalar(libmExpm1(a.value), [(a, libmExp(a.value))])
    }

    /// clamp(a, lo, hi): d/da = 1 inside [lo, hi] (ends included, as in torch.clamp), 0 outside.
    public static func clamp(_ a: Scalar, min lo: Double, max hi: Double) -> Scalar {
        let inside = a.value >= lo && a.value <= hi
        return Scalar(Swift.min(Swift.max(a.value, lo), hi), [(a, inside ? 1 : 0)])
    }

    /// min(a, b): the gradient goes to the smaller operand; on a tie it is split in half
    /// (torch.minimum's rule).
    public static func minimum(_ a: Scalar, _ b: Scalar) -> Scalar {
        if a.value < b.value { return Scalar(a.value, [(a, 1), (b, 0)]) }
        if b.value < a.value { return Scalar(b.value, [(a, 0), (b, 1)]) }
        return Scalar(a.value, [(a, 0.5), (b, 0.5)])
    }

    /// max(a, b): the gradient goes to the larger operand, half to each on a tie (torch.maximum).
    /// verl's dual clip takes it. Lesson 04.
    public static func maximum(_ a: Scalar, _ b: Scalar) -> Scalar {
        -minimum(-a, -b)
    }

    /// |a|: d/da = sign(a), 0 at a = 0 (torch.abs's rule). verl's `abs` KL. Lesson 06.
    public static func abs(_ a: Scalar) -> Scalar {
        Scalar(Swift.abs(a.value), [(a, a.value > 0 ? 1 : a.value < 0 ? -1 : 0)])
    }

    /// sigmoid(a) = 1 / (1 + exp(-a)): d/da = sigmoid(a) (1 - sigmoid(a)). Both are computed from
    /// e = exp(-|a|), which cannot overflow: sigmoid(|a|) = 1 / (1 + e), sigmoid(-|a|) = e / (1 + e),
    /// and the derivative e / (1 + e)^2, which stays accurate where sigmoid(a) is near 1 (there
    /// 1 - sigmoid(a) would cancel).
    public static func sigmoid(_ a: Scalar) -> Scalar {
        let e = libmExp(-Swift.abs(a.value))
        let s = a.value >= 0 ? 1 / (1 + e) : e / (1 + e)
        return Scalar(s, [(a, e / ((1 + e) * (1 + e)))])
    }

    /// stop-gradient: the value of a, as a constant. d/da = 0, so nothing flows back through it
    /// (torch's `.detach()`). CISPO's and VESPO's weights are detached. Lesson 05.
    public static func detached(_ a: Scalar) -> Scalar { Scalar(a.value) }

    /// x_1 + ... + x_n in one node: d/dx_k = 1 (keeps the graph shallow for long sums).
    public static func sum(_ xs: [Scalar]) -> Scalar {
        var total = 0.0
        for x in xs { total += x.value }
        return Scalar(total, xs.map { ($0, 1.0) })
    }
}

@inline(__always) private func libmExp(_ x: Double) -> Double { exp(x) }
@inline(__always) private func libmExpm1(_ x: Double) -> Double { expm1(x) }
