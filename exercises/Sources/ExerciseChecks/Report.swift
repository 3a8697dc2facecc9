import Foundation
import GRPO

/// What a check found: the problems, each one line that names the input, what was expected and
/// what the answer gave. Empty when the answer is right.
public struct Report: Sendable {
    public private(set) var problems: [String] = []
    let exercise: Exercise

    init(_ exercise: Exercise) { self.exercise = exercise }

    /// Checks stop at the first few problems: the first one is the one to read.
    var isFull: Bool { problems.count >= 3 }

    mutating func add(_ problem: String) {
        if !isFull { problems.append(problem) }
    }

    /// Runs `body` (one case of a check) and turns what it throws into a problem: a stub's
    /// `NotWrittenYet`, or any other error the answer threw. Returns false once the check should stop.
    mutating func attempt(_ body: (inout Report) throws -> Void) -> Bool {
        do {
            try body(&self)
        } catch let error as NotWrittenYet {
            add(error.message)
            return false
        } catch {
            add("exercise \(exercise.rawValue): \(exercise.function) threw \(error)")
            return false
        }
        return !isFull
    }

    /// Records a difference larger than rounding: |got - expected| > 1e-10 max(1, |expected|).
    /// `diagnosis` names a known mistake when the answer matches it.
    mutating func compare(_ quantity: String, at input: String, expected: Double, got: Double, diagnosis: String? = nil) {
        if Self.close(got, expected) { return }
        var line = "exercise \(exercise.rawValue): \(quantity) at \(input): expected \(Self.format(expected)), got \(Self.format(got))"
        if let diagnosis { line += " (\(diagnosis))" }
        add(line)
    }

    static func close(_ a: Double, _ b: Double) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
        if a.isInfinite || b.isInfinite { return a == b }
        return abs(a - b) <= 1e-10 * max(1, abs(b))
    }

    /// Twelve significant digits: enough to see a difference, short enough to read.
    static func format(_ x: Double) -> String { String(format: "%.12g", x) }
}

/// d f / d x at x for a function of one Scalar, by the project's autodiff: f's value and gradient.
func valueAndGradient(_ x: Double, _ f: (Scalar) throws -> Scalar) rethrows -> (value: Double, gradient: Double) {
    let leaf = Scalar(x)
    let out = try f(leaf)
    out.backward()
    return (out.value, leaf.grad)
}

/// "logp = -1.2, A = 0.5": an input as the messages print it.
func describe(_ pairs: KeyValuePairs<String, Double>) -> String {
    pairs.map { "\($0.key) = \(Report.format($0.value))" }.joined(separator: ", ")
}
