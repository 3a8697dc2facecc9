// grpo-bench: times the GRPO loss + gradient on both paths, the full breakdown, the `explain`-sized
// work, and (with --torch) PyTorch eager on the same shapes. `swift run -c release grpo-bench --help`.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO

#if DEBUG
let buildConfiguration = "debug"
#else
let buildConfiguration = "release"
#endif

/// Keeps the optimizer from dropping results nobody reads.
nonisolated(unsafe) var blackHole = 0.0

/// Writes one line to stderr.
func printError(_ message: String) {
    var line = "grpo-bench: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    printError(message)
    exit(2)
}

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    if error.isHelp { print(error.message); exit(0) }
    fail(error.message)
}

let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
var report: [(String, JSON)] = [
    ("build", .string(buildConfiguration)),
    ("cores", .integer(cores)),
    ("config", .object([("loss_type", .string(options.lossType.rawValue)), ("beta", .number(options.beta)),
                        ("epsilon", .number(options.epsilon)), ("kl_estimator", .string("k3")),
                        ("seed", .integer(Int(truncatingIfNeeded: options.seed))),
                        ("repeats", .integer(options.repeats)), ("warmup", .integer(options.warmup))])),
]
var table: [String] = []
let want = options.sections

func megabytes(_ bytes: Int?) -> String {
    guard let bytes else { return "n/a" }
    return format(Double(bytes) / 1e6, 1)
}

func format(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (abs(x) * scale).rounded() / scale
    var whole = String(Int(r))
    var fraction = ""
    if digits > 0 {
        let f = Int(((r - r.rounded(.down)) * scale).rounded())
        fraction = String(f)
        fraction = "." + String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
    }
    if x < 0 { whole = "-" + whole }
    return whole + fraction
}

func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return left ? s + fill : fill + s
}

/// One measured path: the JSON entry and one table row.
struct Row {
    let path: String
    let completions: Int
    let maxLen: Int
    let validTokens: Int
    let timing: Timing

    var tokensPerSecond: Double { Double(validTokens) / timing.median }

    var json: JSON {
        .object([
            ("path", .string(path)), ("completions", .integer(completions)), ("max_len", .integer(maxLen)),
            ("valid_tokens", .integer(validTokens)), ("repeats", .integer(timing.seconds.count)),
            ("median_seconds", .number(timing.median)), ("min_seconds", .number(timing.min)),
            ("max_seconds", .number(timing.max)), ("p25_seconds", .number(timing.iqr.0)),
            ("p75_seconds", .number(timing.iqr.1)), ("tokens_per_second", .number(tokensPerSecond)),
            ("peak_added_bytes", timing.peakAddedBytes.map { .integer($0) } ?? .null),
        ])
    }

    func line(versus torch: TorchResult?) -> String {
        let spread = format(timing.min * 1e3, 2) + "-" + format(timing.max * 1e3, 2)
        var speedup = ""
        if let torch, completions == options.completions, maxLen == options.maxLen {
            speedup = format(tokensPerSecond / torch.tokensPerSecond, 1) + "x"
        }
        return pad(path, 22, left: true) + pad("\(completions)x\(maxLen)", 10) + pad("\(validTokens)", 9)
            + pad(format(timing.median * 1e3, 2), 10) + pad(spread, 17) + pad(format(tokensPerSecond / 1e6, 1), 9)
            + pad(megabytes(timing.peakAddedBytes), 9) + pad(speedup, 9)
    }
}

let header = pad("path", 22, left: true) + pad("shape", 10) + pad("tokens", 9) + pad("median ms", 10)
    + pad("min-max ms", 17) + pad("M tok/s", 9) + pad("peak MB", 9) + pad("vs torch", 9)

// PyTorch first, alone, so the two never share the cores.
var torch: TorchResult? = nil
if let python = options.torchPython {
    do {
        torch = try runTorchBench(python: python, script: options.torchScript, options: options)
    } catch {
        switch error { case .failed(let message): fail(message) }
    }
}

var rows: [Row] = []
let bigConfig = options.config(maxLen: options.maxLen)
let needBig = want.contains(.lossGrad) || want.contains(.breakdown)
let big = needBig ? SyntheticBatch(completions: options.completions, maxLen: options.maxLen, seed: options.seed) : nil

// Loss + gradient, vectorized: what a training step calls. The gradient buffer is reused.
var vectorizedLossGrad: Timing? = nil
if want.contains(.lossGrad), let big {
    var grad: [Double] = []
    let t = measure(warmup: options.warmup, repeats: options.repeats) {
        blackHole += Vectorized.lossAndGradient(big.flat, advantages: big.advantages, config: bigConfig, gradient: &grad)
    }
    vectorizedLossGrad = t
    rows.append(Row(path: "vectorized", completions: big.completions, maxLen: big.maxLen,
                    validTokens: big.validTokens, timing: t))
}

// The naive path (scalar autodiff), on its smaller shape: `Naive.breakdown` is its loss + gradient.
let small = want.contains(.naive) || want.contains(.explain)
    ? SyntheticBatch(completions: options.naiveCompletions, maxLen: options.naiveMaxLen, seed: options.seed) : nil
let smallConfig = options.config(maxLen: options.naiveMaxLen)
if want.contains(.naive), let small {
    let t = measure(warmup: 1, repeats: options.naiveRepeats) {
        blackHole += (try? Naive.breakdown(small.batch, config: smallConfig).loss) ?? .nan
    }
    rows.append(Row(path: "naive", completions: small.completions, maxLen: small.maxLen,
                    validTokens: small.validTokens, timing: t))
}
if !rows.isEmpty {
    report.append(("loss_grad", .array(rows.map(\.json))))
    table.append("Loss + d loss / d logp (\(options.lossType.rawValue), beta \(options.beta), epsilon \(options.epsilon), float64, \(buildConfiguration) build, \(cores) cores)")
    table.append(header)
    if let torch {
        table.append(pad("torch_bench.py", 22, left: true) + pad("\(options.completions)x\(options.maxLen)", 10)
            + pad("\(torch.validTokens)", 9) + pad(format(torch.medianSeconds * 1e3, 2), 10) + pad("", 17)
            + pad(format(torch.tokensPerSecond / 1e6, 1), 9) + pad("", 9) + pad("1.0x", 9))
    }
    table += rows.map { $0.line(versus: torch) }
    if let torch { table.append("  torch: \(torch.engine), median of 10 runs after 3 warm-ups (its own count of valid tokens)") }
    table.append("")
}
if let torch {
    report.append(("torch", .object([("engine", .string(torch.engine)), ("completions", .integer(options.completions)),
                                     ("max_len", .integer(options.maxLen)), ("valid_tokens", .integer(torch.validTokens)),
                                     ("median_seconds", .number(torch.medianSeconds)),
                                     ("tokens_per_second", .number(torch.tokensPerSecond))])))
}

// The full breakdown: validation, flattening, advantages and every per-token quantity (what
// `explain` shows), against loss + gradient alone on the same batch.
if want.contains(.breakdown), let big {
    let t = measure(warmup: options.warmup, repeats: options.repeats) {
        blackHole += (try? Vectorized.breakdown(big.batch, config: bigConfig).loss) ?? .nan
    }
    let row = Row(path: "vectorized breakdown", completions: big.completions, maxLen: big.maxLen,
                  validTokens: big.validTokens, timing: t)
    var fields: [(String, JSON)] = []
    if case .object(let pairs) = row.json { fields = pairs }
    let ratio = vectorizedLossGrad.map { t.median / $0.median }
    fields.append(("ratio_to_loss_grad", ratio.map { .number($0) } ?? .null))
    report.append(("breakdown", .object(fields)))
    table.append("Full breakdown (Vectorized.breakdown: validate, flatten, advantages, every per-token quantity)")
    table.append(header)
    table.append(row.line(versus: nil))
    if let ratio { table.append("  \(format(ratio, 2))x the time of loss + gradient alone") }
    table.append("")
}

// What `explain` does: both paths' breakdowns of the naive-sized batch, and how far apart they are.
if want.contains(.explain), let small {
    var naiveTimes: [Double] = [], vectorTimes: [Double] = []
    var maxGradDifference = 0.0, lossDifference = 0.0
    for _ in 0..<options.naiveRepeats {
        let t0 = now()
        guard let n = try? Naive.breakdown(small.batch, config: smallConfig) else { fail("the synthetic batch is invalid") }
        let t1 = now()
        guard let v = try? Vectorized.breakdown(small.batch, config: smallConfig) else { fail("the synthetic batch is invalid") }
        let t2 = now()
        naiveTimes.append(t1 - t0)
        vectorTimes.append(t2 - t1)
        lossDifference = abs(n.loss - v.loss)
        maxGradDifference = zip(n.gradLogp.values, v.gradLogp.values).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
    let totals = zip(naiveTimes, vectorTimes).map { $0 + $1 }
    let worst = totals.max()!, first = totals[0]
    let medianTotal = totals.sorted()[totals.count / 2]
    report.append(("explain", .object([
        ("completions", .integer(small.completions)), ("max_len", .integer(small.maxLen)),
        ("valid_tokens", .integer(small.validTokens)), ("build", .string(buildConfiguration)),
        ("first_seconds", .number(first)), ("median_seconds", .number(medianTotal)), ("max_seconds", .number(worst)),
        ("naive_median_seconds", .number(naiveTimes.sorted()[naiveTimes.count / 2])),
        ("vectorized_median_seconds", .number(vectorTimes.sorted()[vectorTimes.count / 2])),
        ("loss_difference", .number(lossDifference)), ("max_grad_difference", .number(maxGradDifference)),
    ])))
    table.append("explain-sized work: naive + vectorized breakdown of \(small.completions)x\(small.maxLen) (\(small.validTokens) tokens, \(buildConfiguration) build)")
    table.append("  first call \(format(first * 1e3, 1)) ms, median \(format(medianTotal * 1e3, 1)) ms, worst \(format(worst * 1e3, 1)) ms"
        + " (naive \(format(naiveTimes.sorted()[naiveTimes.count / 2] * 1e3, 1)) ms + vectorized \(format(vectorTimes.sorted()[vectorTimes.count / 2] * 1e3, 2)) ms)")
    table.append("  paths agree: |loss difference| \(lossDifference), max |grad difference| \(maxGradDifference)")
    table.append("")
}

// The tiny-policy training figures (Training.swift), when that section exists.
if want.contains(.training), let section = trainingSection(options) {
    report.append(("training", section.json))
    table.append("Training (tiny policy)")
    table += section.table
    table.append("")
}

if blackHole.isNaN { printError("a loss was NaN") }
if options.json {
    print(JSON.object(report).text)
} else {
    print(table.joined(separator: "\n"), terminator: "")
}
