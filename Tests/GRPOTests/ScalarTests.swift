import Testing
@testable import GRPO

@Suite("Scalar autodiff rules")
struct ScalarTests {
    @Test("product and sum rules: f = x*y + exp(x) at x = 2, y = 3")
    func productAndExp() {
        // df/dx = y + exp(x) = 3 + 7.389056 = 10.389056; df/dy = x = 2
        let x = Scalar(2), y = Scalar(3)
        let f = x * y + Scalar.exp(x)
        f.backward()
        expectClose(f.value, 6 + 7.38905609893065, "value")
        expectClose(x.grad, 3 + 7.38905609893065, "dx")
        #expect(y.grad == 2)
    }

    @Test("a constant on the left: f = 3 * x + (2 + x) at x = 1.5 is 8 with df/dx = 4")
    func constantOnTheLeft() {
        // 3 * 1.5 + (2 + 1.5) = 4.5 + 3.5 = 8; df/dx = 3 + 1 = 4
        let x = Scalar(1.5)
        let f = 3 * x + (2 + x)
        f.backward()
        #expect(f.value == 8 && x.grad == 4)
    }

    @Test("a zero local derivative passes nothing on, even an infinite gradient (exp of an underflowed argument)")
    func zeroLocalDerivative() {
        let x = Scalar(-800)
        let y = Scalar.exp(x) * Double.infinity  // exp(-800) = 0, d/dx exp = 0; the product is 0 * inf = NaN as a value
        y.backward()
        #expect(x.grad == 0, "not inf * 0 = NaN")
    }

    @Test("clamp passes the gradient inside the range, ends included, and blocks it outside")
    func clamp() {
        for (x, expected) in [(1.0, 1.0), (1.2, 1.0), (1.3, 0.0), (0.7, 0.0), (0.8, 1.0)] {
            let a = Scalar(x)
            Scalar.clamp(a, min: 0.8, max: 1.2).backward()
            #expect(a.grad == expected, "clamp at \(x)")
        }
    }

    @Test("minimum sends the gradient to the smaller operand, half to each on a tie")
    func minimum() {
        let a = Scalar(1), b = Scalar(2)
        Scalar.minimum(a, b).backward()
        #expect(a.grad == 1 && b.grad == 0)
        let c = Scalar(1), d = Scalar(1)
        Scalar.minimum(c, d).backward()
        #expect(c.grad == 0.5 && d.grad == 0.5)
    }

    @Test("a node used twice collects both gradients; deep chains and wide sums")
    func reuseAndDepth() {
        let x = Scalar(3)
        let f = x * x  // df/dx = 2x = 6
        f.backward()
        #expect(x.grad == 6)
        // A chain 2000 deep: backward() walks it without recursion.
        var total = Scalar(0)
        let leaf = Scalar(1)
        for _ in 0..<2000 { total = total + leaf }
        total.backward()
        #expect(leaf.grad == 2000)
        // A sum over 100000 tokens is one node, as the naive loss builds it.
        let leaves = (0..<100_000).map { _ in Scalar(1) }
        let sum = Scalar.sum(leaves) * 0.5
        sum.backward()
        #expect(leaves.allSatisfy { $0.grad == 0.5 })
    }
}
