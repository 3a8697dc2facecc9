import ArgumentParser
import GRPO
import REPLCore
import TinyPolicy

/// grpo-bench's command line. ArgumentParser reads the words (`--flag value` and `--flag=value`,
/// `--help`, completion scripts); `options()` checks each value's range and builds `Options`.
struct BenchArguments: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo-bench",
        abstract: "Times the GRPO loss + d loss / d logp on synthetic batches shaped like torch_bench.py.",
        discussion: "Build with: swift run -c release grpo-bench. Exit status 2 and one line on stderr for a bad flag.")

    @Option(parsing: .unconditional, help: ArgumentHelp("Rows B of the vectorized runs.", valueName: "n")) var completions = 512
    @Option(parsing: .unconditional, help: ArgumentHelp("Padded length T; row lengths are uniform in [T/2, T].", valueName: "n")) var maxLen = 1024
    @Option(parsing: .unconditional, help: ArgumentHelp("Rows of the naive runs and of the explain check.", valueName: "n")) var naiveCompletions = 64
    @Option(parsing: .unconditional, help: ArgumentHelp("Padded length of the naive runs.", valueName: "n")) var naiveMaxLen = 256
    @Option(parsing: .unconditional, help: ArgumentHelp("One of " + GRPOConfig.LossType.allCases.map(\.rawValue).joined(separator: ", ")
                               + " (--torch times grpo, bnpo, dapo and dr_grpo, torch_bench.py's).", valueName: "name"),
            completion: .list(GRPOConfig.LossType.allCases.map(\.rawValue)))
    var lossType = GRPOConfig.LossType.grpo.rawValue
    @Option(parsing: .unconditional, help: ArgumentHelp("KL weight; 0 switches the KL term off.", valueName: "x")) var beta = 0.04
    @Option(parsing: .unconditional, help: ArgumentHelp("Clip width.", valueName: "x")) var epsilon = 0.2
    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the synthetic batch.", valueName: "n")) var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: ArgumentHelp("Timed runs per vectorized measurement.", valueName: "n")) var repeats = 20
    @Option(parsing: .unconditional, help: ArgumentHelp("Untimed runs before timing.", valueName: "n")) var warmup = 3
    @Option(parsing: .unconditional, help: ArgumentHelp("Timed runs of the naive path.", valueName: "n")) var naiveRepeats = 5
    @Option(parsing: .unconditional, help: ArgumentHelp("Comma-separated sections: " + Options.Section.allCases.map(\.rawValue).joined(separator: ","),
                               valueName: "list"),
            completion: .list(Options.Section.allCases.map(\.rawValue)))
    var only: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Also run torch_bench.py with this Python, same shapes, first.", valueName: "python"),
            completion: .file())
    var torch: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Where torch_bench.py is.", valueName: "path"), completion: .file(extensions: ["py"]))
    var torchScript = "bench/torch_bench.py"
    @Option(parsing: .unconditional, help: ArgumentHelp("Loss path of the training run: vectorized or naive.", valueName: "name"),
            completion: .list(LossPath.allCases.map(\.rawValue)))
    var path = LossPath.vectorized.rawValue
    @Option(parsing: .unconditional, help: ArgumentHelp("Iterations of each training run.", valueName: "n")) var iterations = 500
    @Flag(help: "Print one JSON object instead of the table.") var json = false

    /// The options these arguments ask for, each value checked.
    func options() throws(UsageError) -> Options {
        var o = Options()
        o.completions = try inRange("--completions", completions, 2...1 << 20)
        o.maxLen = try inRange("--max-len", maxLen, 1...1 << 20)
        o.naiveCompletions = try inRange("--naive-completions", naiveCompletions, 2...1 << 16)
        o.naiveMaxLen = try inRange("--naive-max-len", naiveMaxLen, 1...1 << 16)
        guard let type = GRPOConfig.LossType(rawValue: lossType) else {
            throw UsageError("--loss-type must be one of \(GRPOConfig.LossType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(lossType)'")
        }
        o.lossType = type
        o.beta = try inRange("--beta", beta, 0...1e6)
        o.epsilon = try inRange("--epsilon", epsilon, 0...0.999)
        o.seed = seed
        o.repeats = try inRange("--repeats", repeats, 1...100_000)
        o.warmup = try inRange("--warmup", warmup, 0...100_000)
        o.naiveRepeats = try inRange("--naive-repeats", naiveRepeats, 1...100_000)
        if let only {
            var chosen = Set<Options.Section>()
            for name in only.split(separator: ",", omittingEmptySubsequences: false) {
                guard let section = Options.Section(rawValue: String(name)) else {
                    throw UsageError("--only: unknown section '\(name)'; sections are \(Options.Section.allCases.map(\.rawValue).joined(separator: ","))")
                }
                chosen.insert(section)
            }
            o.sections = chosen
        }
        o.torchPython = torch
        o.torchScript = torchScript
        guard let trainingPath = LossPath(rawValue: path) else { throw UsageError("--path must be vectorized or naive, got '\(path)'") }
        o.trainingPath = trainingPath
        o.trainingIterations = try inRange("--iterations", iterations, 1...1_000_000)
        o.json = json
        // About 100 bytes per token between the batch, its flat copy and the breakdown's outputs:
        // 2^26 tokens is 6.7 GB. Refuse more rather than swap.
        if o.completions * o.maxLen > 1 << 26 {
            throw UsageError("--completions \(o.completions) x --max-len \(o.maxLen) is more than 2^26 (67 million) tokens; choose a smaller batch")
        }
        if o.naiveCompletions * o.naiveMaxLen > 1 << 22 {
            throw UsageError("--naive-completions \(o.naiveCompletions) x --naive-max-len \(o.naiveMaxLen) is more than 2^22 tokens; the naive path would need tens of GB")
        }
        return o
    }

    /// Parses the command line into `Options`; prints help or a completion script and exits 0,
    /// or one line on stderr and exits 2.
    static func parsedOptions() -> Options {
        let parsed: BenchArguments
        do { parsed = try parse() } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            fail(ArgumentMessage.oneLine(message(for: error), then: "'grpo-bench --help' shows every flag"))
        }
        do throws(UsageError) { return try parsed.options() } catch { fail(error.message) }
    }
}

private func inRange(_ flag: String, _ n: Int, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
    guard range.contains(n) else { throw UsageError("\(flag) \(n) is out of range \(range.lowerBound)...\(range.upperBound)") }
    return n
}

private func inRange(_ flag: String, _ x: Double, _ range: ClosedRange<Double>) throws(UsageError) -> Double {
    guard x.isFinite, range.contains(x) else { throw UsageError("\(flag) \(x) is out of range \(plain(range.lowerBound))...\(plain(range.upperBound))") }
    return x
}

/// 1000000.0 as "1000000", 0.999 as "0.999".
private func plain(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
}

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
