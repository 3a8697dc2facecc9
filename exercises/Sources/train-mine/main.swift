import ExerciseChecks
import Exercises
import Foundation
import GRPO
import LossTraining
import ReferenceSolutions
import WrongSolutions

// train-mine: the tiny policy trained by your `Mine.grpoLoss` (exercise Loss) and, from the same
// seed, by the project's naive path, side by side. `swift run train-mine --help`.

let usage = """
    usage: swift run train-mine [--iterations N] [--seed S] [--answer NAME]
      --iterations N   iterations of each run, 1-10000 (default 200)
      --seed S         the seed both runs start from, a whole number >= 0
                       (default 0)
      --answer NAME    whose grpoLoss trains: mine (Sources/Exercises/07-Loss.swift,
                       the default), reference (Solutions/) or wrong (Wrong/: the KL
                       term left out)
    """

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data((wrapLines("train-mine: " + message).joined(separator: "\n") + "\n").utf8))
    exit(code)
}

var iterations = 200
var seed: UInt64 = 0
var answerName = "mine"
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    if flag == "--help" || flag == "-h" {
        print(usage)
        exit(0)
    }
    guard ["--iterations", "--seed", "--answer"].contains(flag) else {
        fail("unknown argument '\(flag)'; accepted: --iterations N, --seed S, --answer mine|reference|wrong, --help", code: 2)
    }
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value", code: 2) }
    switch flag {
    case "--iterations":
        guard let n = Int(value), (1...10_000).contains(n) else { fail("--iterations takes a whole number from 1 to 10000, not '\(value)'", code: 2) }
        iterations = n
    case "--seed":
        guard let s = UInt64(value) else { fail("--seed takes a whole number >= 0, not '\(value)'", code: 2) }
        seed = s
    default:
        guard ["mine", "reference", "wrong"].contains(value) else { fail("--answer takes mine, reference or wrong, not '\(value)'", code: 2) }
        answerName = value
    }
}

let answers: [String: (String, LossAnswer)] = [
    "mine": ("Mine.grpoLoss", Mine.grpoLoss), "reference": ("Reference.grpoLoss", Reference.grpoLoss),
    "wrong": ("Wrong.grpoLoss", Wrong.grpoLoss),
]
let (answerLabel, answer) = answers[answerName]!

let comparison: TrainingComparison
do {
    comparison = try compareTraining(answer, iterations: iterations, seed: seed)
} catch let error as NotWrittenYet {
    fail("\(error.message); train-mine trains with \(answerLabel), which needs it", code: 1)
} catch {
    fail("\(answerLabel) could not train: \(error)", code: 1)
}

/// Prints `text` as lines of at most 80 columns.
func say(_ text: String) {
    for line in wrapLines(text) { print(line) }
}

let settings = comparison.settings, config = comparison.lossConfig
say("The tiny policy trained by \(answerLabel) (\"yours\") and, from the same seed, by the project's naive path. "
    + "Task \(settings.task), seed \(seed), loss_type \(config.lossType.rawValue), epsilon \(config.epsilon), beta \(config.beta), "
    + "mu = \(settings.numIterations) updates per batch, \(settings.optimizer.rawValue) with learning rate \(settings.learningRate).")
say("E[r]: theta's exact expected reward before the iteration. reward: the batch's mean sampled reward. "
    + "grad diff: the largest |d loss / d logp| difference from the project's, on your batch.")
print("")

/// A number in `width` columns: three decimals, or two significant digits below 0.001 (a
/// difference of exactly 0 prints as 0).
func cell(_ x: Double, _ width: Int, digits: Int = 3) -> String {
    let text = x == 0 ? (digits == 0 ? "0" : String(format: "%.\(digits)f", x))
        : (abs(x) < 1e-3 ? String(format: "%.1e", x) : String(format: "%.\(digits)f", x))
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

let header = ["iteration", "E[r] yours", "E[r] project", "reward yours", "reward project", "grad diff"]
let widths = header.map { $0.count }
print(zip(header, widths).map { h, w in String(repeating: " ", count: w - h.count) + h }.joined(separator: "  "))
let every = max(1, iterations / 10)
let worst = comparison.rows.max { $0.gradientDifference < $1.gradientDifference }!
// Every tenth of the run, and the iteration with the largest difference the summary names.
for row in comparison.rows where row.iteration == 1 || row.iteration % every == 0 || row.iteration == iterations
    || (row.iteration == worst.iteration && worst.gradientDifference > 0) {
    let values = [row.expectedReward.answer, row.expectedReward.project, row.sampledReward.answer, row.sampledReward.project]
    let line = [String(row.iteration)].map { String(repeating: " ", count: widths[0] - $0.count) + $0 }
        + zip(values, widths.dropFirst()).map { cell($0, $1) } + [cell(row.gradientDifference, widths[5], digits: 0 < row.gradientDifference ? 3 : 0)]
    print(line.joined(separator: "  "))
}

let start = comparison.rows[0].expectedReward.answer
let (mine, project) = comparison.finalExpectedReward
print("")
say("After \(iterations) iterations, E[r] under theta: yours \(cell(mine, 0)), the project's \(cell(project, 0)) "
    + "(both began at \(cell(start, 0))).")
if worst.gradientDifference <= 1e-9 {
    say("Your loss gave the project's gradient at every update (largest difference "
        + "\(cell(worst.gradientDifference, 0, digits: 0))): the same run, number for number.")
} else {
    let first = comparison.rows.first { $0.gradientDifference > 1e-9 }!
    say("Your gradient differs from the project's from iteration \(first.iteration) on (largest difference "
        + "\(cell(worst.gradientDifference, 0)), iteration \(worst.iteration)); from then the two runs sample different "
        + "batches. `swift test --filter Loss` says where your loss differs.")
}
if mine <= start { say("Your loss did not teach the policy: E[r] did not rise.") }
