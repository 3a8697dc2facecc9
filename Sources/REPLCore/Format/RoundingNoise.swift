import GRPO
import TinyPolicy

extension Fmt {
    /// A sum as the REPL prints it: `value` to `digits` significant digits, or "0" with the
    /// exact sum in a note when it is not 0 but within `bound`, the rounding of a sum whose terms
    /// cancel on paper (`Breakdown.lossRoundingBound`). `--json` keeps the exact value.
    public static func sum(_ value: Double, bound: Double, digits: Int = 10) -> String {
        guard value != 0, abs(value) <= bound else { return num(value, digits: digits) }
        return "0 (zero within rounding: the terms summed to \(num(value, digits: 4)))"
    }

    /// The loss of `b`, rounding noise printed as 0 (`sum`).
    public static func loss(_ b: Breakdown, digits: Int = 10) -> String {
        sum(b.loss, bound: b.lossRoundingBound, digits: digits)
    }

    /// The loss of `b` as a table cell: "0*" for rounding noise (`roundingNote` explains the star).
    static func lossCell(_ b: Breakdown, digits: Int = 4) -> String {
        b.lossIsRoundingNoise ? "0*" : num(b.loss, digits: digits)
    }

    /// The note under a table whose "0*" cells stand for these sums, or none.
    static func roundingNote(_ noise: [Double]) -> [String] {
        guard let largest = noise.map(abs).max() else { return [] }
        return ["* zero within rounding: the loss's terms cancel on paper, and summed to at most \(num(largest)) in size"]
    }

    /// The rounding bound of a plain sum of these terms, as `Breakdown.lossRoundingBound` computes it.
    static func roundingBound(_ terms: [Double]) -> Double {
        Breakdown.sumRoundingBound(terms: terms.count, magnitude: terms.reduce(0) { $0 + abs($1) })
    }
}

extension StepSummary {
    /// True when this update's loss is not 0 but within its rounding bound of 0.
    var lossIsRoundingNoise: Bool { lossRoundingBound.map { loss != 0 && abs(loss) <= $0 } ?? false }

    /// The loss as a table cell: "0*" for rounding noise (`roundingNote` explains the star).
    var lossCell: String { lossIsRoundingNoise ? "0*" : Fmt.num(loss) }

    /// The note under a table with a "0*" loss cell, or none.
    static func roundingNote(_ steps: some Sequence<StepSummary>) -> [String] {
        Fmt.roundingNote(steps.filter(\.lossIsRoundingNoise).map(\.loss))
    }
}
