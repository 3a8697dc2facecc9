import Foundation
import GRPO

/// What a check found: the problems, each one line that names the input, what was expected and
/// what the answer gave. Empty when the answer is right.
///
/// A known mistake is named (on the first problem) when it gives the answer's number in every
/// failing comparison where it was tried, and in at least two of them unless the check ran to
/// its end: one case can match a mistake by coincidence (a sum of squares of 1 is its own square
/// root), and an answer that is right on some inputs is not the mistake that is wrong on them.
public struct Report: Sendable {
    private var lines: [String] = []
    public let exercise: Exercise
    /// For each known mistake tried, oldest first: the failing comparisons it explained and the
    /// ones it did not.
    private var evidence: [(mistake: String, explained: Int, contradicted: Int)] = []
    private var stoppedEarly = false
    /// Cases with at least one problem; the check stops after `caseLimit` of them.
    private var failingCases = 0
    private var caseFailed = false
    private static let caseLimit = 3

    init(_ exercise: Exercise) { self.exercise = exercise }

    /// The problems found, the first with the mistake that explains them, if one does.
    public var problems: [String] {
        guard let first = lines.first else { return [] }
        return [mistake.map { first + " (\($0))" } ?? first] + lines.dropFirst()
    }

    /// The known mistake that explains the failures (see the type's comment).
    var mistake: String? {
        evidence.first { $0.contradicted == 0 && ($0.explained >= 2 || ($0.explained == 1 && !stoppedEarly)) }?.mistake
    }

    /// Checks stop after a few failing cases and print their first problems: the first one is the
    /// one to read.
    var isFull: Bool { failingCases >= Self.caseLimit }

    mutating func add(_ problem: String) {
        caseFailed = true
        if lines.count < Self.caseLimit { lines.append(problem) }
    }

    /// Runs `body` (one case of a check) and turns what it throws into a problem: a stub's
    /// `NotWrittenYet`, or any other error the answer threw. Returns false once the check should stop.
    mutating func attempt(_ body: (inout Report) throws -> Void) -> Bool {
        caseFailed = false
        var going = true
        do {
            try body(&self)
        } catch let error as NotWrittenYet {
            add(error.message)
            going = false
        } catch {
            add("exercise \(exercise.rawValue): \(exercise.function) threw \(error)")
            going = false
        }
        if caseFailed { failingCases += 1 }
        going = going && !isFull
        if !going { stoppedEarly = true }
        return going
    }

    /// Records a difference larger than rounding: |got - expected| > 1e-10 max(1, |expected|).
    /// `mistakes` are known mistakes with the number each gives here.
    mutating func compare(_ quantity: String, at input: String, expected: Double, got: Double, mistakes: [(String, Double)] = []) {
        if Self.close(got, expected) { return }
        add("exercise \(exercise.rawValue): \(quantity) at \(input): expected \(Self.format(expected)), got \(Self.format(got))")
        for (name, value) in mistakes {
            let k = evidence.firstIndex { $0.mistake == name } ?? {
                evidence.append((name, 0, 0))
                return evidence.count - 1
            }()
            if Self.close(got, value) { evidence[k].explained += 1 } else { evidence[k].contradicted += 1 }
        }
    }

    /// `compare` for a derivative: a 0 where the derivative is not 0 is named as a cut gradient.
    mutating func compareGradient(_ quantity: String, at input: String, expected: Double, got: Double) {
        compare(quantity, at: input, expected: expected, got: got, mistakes: [(Self.cutGradient, 0)])
    }

    /// What a zero gradient usually means: the answer left the `Scalar` graph.
    static let cutGradient = "the gradient is 0: a Scalar rebuilt from `.value` (or a Double) no longer depends on logp; "
        + "compute with the Scalar itself, e.g. `logp * advantage`"

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
