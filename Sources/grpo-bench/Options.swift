import GRPO
import TinyPolicy

/// What `grpo-bench` was asked to do. Every flag is validated here; a bad one stops the run with
/// one line on stderr (see `main.swift`).
struct Options {
    /// Shape of the vectorized runs (and of `torch_bench.py`): B completions padded to T tokens.
    var completions = 512
    var maxLen = 1024
    /// Shape of the naive runs and of the `explain` check: the naive path builds a graph of
    /// heap-allocated `Scalar`s, so it gets a smaller batch; tokens per second still compare.
    var naiveCompletions = 64
    var naiveMaxLen = 256
    var beta = 0.04
    var lossType = GRPOConfig.LossType.grpo
    var epsilon = 0.2
    var seed: UInt64 = 0
    /// Timed runs after `warmup` untimed ones; the naive path has its own (smaller) count.
    var repeats = 20
    var warmup = 3
    var naiveRepeats = 5
    var json = false
    var sections: Set<Section> = Set(Section.allCases)
    /// Optional side-by-side run of `torch_bench.py` with this Python (a venv outside the repo).
    var torchPython: String? = nil
    var torchScript = "bench/torch_bench.py"
    /// The training run of the tiny policy: which loss path drives it, and how many iterations.
    var trainingPath = LossPath.vectorized
    var trainingIterations = 500

    enum Section: String, CaseIterable {
        case lossGrad = "loss_grad", naive, breakdown, explain, training
    }

    /// The loss configuration every path uses: `torch_bench.py`'s (epsilon 0.2, k3, no bias
    /// correction, `max_completion_length` = T so `dr_grpo` divides by B * T as it does).
    func config(maxLen t: Int) -> GRPOConfig {
        var c = GRPOConfig()
        c.lossType = lossType
        c.beta = beta
        c.epsilon = epsilon
        c.maxCompletionLength = max(t, 1)
        return c
    }

    static let usage = """
        usage: grpo-bench [options]      (build with: swift run -c release grpo-bench)

        Times the GRPO loss + d loss / d logp on synthetic batches shaped like torch_bench.py.
          --completions N        rows B of the vectorized runs (default 512)
          --max-len T            padded length T; row lengths are uniform in [T/2, T] (default 1024)
          --naive-completions N  rows of the naive runs and of the explain check (default 64)
          --naive-max-len T      padded length of the naive runs (default 256)
          --loss-type NAME       grpo, bnpo, dapo, dr_grpo, cispo, sapo, luspo or vespo (default grpo;
                                 --torch times the first four, torch_bench.py's)
          --beta X               KL weight, 0 switches the KL term off (default 0.04)
          --epsilon X            clip width (default 0.2)
          --seed N               seed of the synthetic batch (default 0)
          --repeats N            timed runs per vectorized measurement (default 20)
          --warmup N             untimed runs before timing (default 3)
          --naive-repeats N      timed runs of the naive path (default 5)
          --only LIST            comma-separated sections: loss_grad,naive,breakdown,explain,training
          --torch PYTHON         also run torch_bench.py with this Python, same shapes, first
          --torch-script PATH    where torch_bench.py is (default bench/torch_bench.py)
          --path NAME            loss path of the training run: vectorized or naive (default vectorized)
          --iterations N         iterations of the training run (default 500)
          --json                 print one JSONValue object instead of the table
          -h, --help             this text
        """

    /// Parses `arguments` (without the program name).
    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var o = Options()
        var rest = arguments[...]
        func value(_ flag: String) throws(UsageError) -> String {
            guard let v = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
            return v
        }
        func integer(_ flag: String, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
            let text = try value(flag)
            guard let n = Int(text) else { throw UsageError("\(flag) expects a whole number, got '\(text)'") }
            guard range.contains(n) else {
                throw UsageError("\(flag) \(n) is out of range \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        func number(_ flag: String, _ range: ClosedRange<Double>) throws(UsageError) -> Double {
            let text = try value(flag)
            guard let x = Double(decimalText: text), x.isFinite else { throw UsageError("\(flag) expects a number, got '\(text)'") }
            guard range.contains(x) else { throw UsageError("\(flag) \(text) is out of range \(plain(range.lowerBound))...\(plain(range.upperBound))") }
            return x
        }
        while let flag = rest.popFirst() {
            // --flag=value is accepted too.
            var flag = flag
            if flag.hasPrefix("--"), let eq = flag.firstIndex(of: "=") {
                rest.insert(String(flag[flag.index(after: eq)...]), at: rest.startIndex)
                flag = String(flag[..<eq])
            }
            switch flag {
            case "--completions": o.completions = try integer(flag, 2...1 << 20)
            case "--max-len": o.maxLen = try integer(flag, 1...1 << 20)
            case "--naive-completions": o.naiveCompletions = try integer(flag, 2...1 << 16)
            case "--naive-max-len": o.naiveMaxLen = try integer(flag, 1...1 << 16)
            case "--loss-type":
                let text = try value(flag)
                guard let t = GRPOConfig.LossType(rawValue: text) else {
                    throw UsageError("--loss-type must be one of \(GRPOConfig.LossType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
                }
                o.lossType = t
            case "--beta": o.beta = try number(flag, 0...1e6)
            case "--epsilon": o.epsilon = try number(flag, 0...0.999)
            case "--seed":
                let text = try value(flag)
                guard let s = UInt64(text) else { throw UsageError("--seed expects a non-negative whole number, got '\(text)'") }
                o.seed = s
            case "--repeats": o.repeats = try integer(flag, 1...100_000)
            case "--warmup": o.warmup = try integer(flag, 0...100_000)
            case "--naive-repeats": o.naiveRepeats = try integer(flag, 1...100_000)
            case "--only":
                let text = try value(flag)
                var chosen = Set<Section>()
                for name in text.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let s = Section(rawValue: String(name)) else {
                        throw UsageError("--only: unknown section '\(name)'; sections are \(Section.allCases.map(\.rawValue).joined(separator: ","))")
                    }
                    chosen.insert(s)
                }
                o.sections = chosen
            case "--torch": o.torchPython = try value(flag)
            case "--torch-script": o.torchScript = try value(flag)
            case "--path":
                let text = try value(flag)
                guard let path = LossPath(rawValue: text) else { throw UsageError("--path must be vectorized or naive, got '\(text)'") }
                o.trainingPath = path
            case "--iterations": o.trainingIterations = try integer(flag, 1...1_000_000)
            case "--json": o.json = true
            case "-h", "--help": throw UsageError(usage, isHelp: true)
            default: throw UsageError("unknown flag '\(flag)' (see --help)")
            }
        }
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
}

/// 1000000.0 as "1000000", 0.999 as "0.999".
private func plain(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
}

struct UsageError: Error {
    let message: String
    var isHelp = false
    init(_ message: String, isHelp: Bool = false) {
        self.message = message
        self.isHelp = isHelp
    }
}
