// grpo-bench: times the GRPO loss + gradient on both paths, the full breakdown, the `explain`-sized
// work, and (with --torch) PyTorch eager on the same shapes. `swift run -c release grpo-bench --help`.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO
import REPLCore

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

let options = BenchArguments.parsedOptions()

let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
var report: [(String, JSONValue)] = [
    ("build", .string(buildConfiguration)),
    ("cores", .integer(cores)),
    ("config", .fields([("loss_type", .string(options.lossType.rawValue)), ("beta", .number(options.beta)),
                        ("epsilon", .number(options.epsilon)), ("kl_estimator", .string("k3")),
                        ("seed", .integer(Int(truncatingIfNeeded: options.seed))),
                        ("repeats", .integer(options.repeats)), ("warmup", .integer(options.warmup))])),
]
/// Each section's table lines and JSONValue entries, printed in a fixed order at the end (the
/// measurements run in another: the breakdown before the naive path, whose many small objects
/// would otherwise leave the heap warm for it).
var tables: [Options.Section: [String]] = [:]
var entries: [Options.Section: [(String, JSONValue)]] = [:]
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

/// One measured path: the JSONValue entry and one table row.
struct Row {
    let path: String
    let completions: Int
    let maxLen: Int
    let validTokens: Int
    let timing: Timing

    var tokensPerSecond: Double { Double(validTokens) / timing.median }

    var json: JSONValue {
        .fields([
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
        return pad(path, 24, left: true) + pad("\(completions)x\(maxLen)", 10) + pad("\(validTokens)", 9)
            + pad(format(timing.median * 1e3, 2), 10) + pad(spread, 17) + pad(format(tokensPerSecond / 1e6, 1), 9)
            + pad(megabytes(timing.peakAddedBytes), 9) + pad(speedup, 9)
    }
}

let header = pad("path", 24, left: true) + pad("shape", 10) + pad("tokens", 9) + pad("median ms", 10)
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
if want.contains(.lossGrad), let big {
    var grad: [Double] = []
    let t = measure(warmup: options.warmup, repeats: options.repeats) {
        blackHole += (try? Vectorized.lossAndGradient(big.flat, advantages: big.advantages, config: bigConfig, gradient: &grad)) ?? .nan
    }
    rows.append(Row(path: "vectorized", completions: big.completions, maxLen: big.maxLen,
                    validTokens: big.validTokens, timing: t))
}

// The full breakdown: validation, advantages and every per-token quantity (what `explain`
// shows), against loss + gradient alone on the same batch, the two run in turn so that the ratio
// is taken round by round on the same state of the machine. Measured twice: with glibc's default
// malloc, which hands the 13 MB of outputs back to the kernel after each call (so every call
// page-faults them in again), then with freed memory kept, as in a long-running process.
if want.contains(.breakdown), let big {
    var fieldsByHeap: [(String, JSONValue)] = []
    var table = ["Full breakdown (Vectorized.breakdown: validate, advantages, every per-token quantity)",
                 header + pad("faults", 8) + pad("ratio", 7)]
    var grad = [Double](repeating: 0, count: big.validTokens)
    for warmHeap in [false, true] {
        if warmHeap && !Memory.keepFreedMemory() { continue }
        let timings = measureInTurn(warmup: options.warmup, repeats: options.repeats, [
            { blackHole += (try? Vectorized.breakdown(big.batch, config: bigConfig).loss) ?? .nan },
            { blackHole += (try? Vectorized.lossAndGradient(big.flat, advantages: big.advantages, config: bigConfig, gradient: &grad)) ?? .nan },
        ])
        let (t, ratio) = (timings[0], timings[0].pairedRatio(to: timings[1]))
        let label = warmHeap ? "breakdown, warm heap" : "breakdown, fresh pages"
        let row = Row(path: label, completions: big.completions, maxLen: big.maxLen,
                      validTokens: big.validTokens, timing: t)
        var fields: [(String, JSONValue)] = []
        if case .object(let object) = row.json { fields = object.pairs.filter { $0.0 != "path" } }
        fields.append(("page_faults_per_run", .number(t.pageFaultsPerRun)))
        fields.append(("loss_grad_median_seconds", .number(timings[1].median)))
        fields.append(("ratio_to_loss_grad", .number(ratio)))
        fieldsByHeap.append((warmHeap ? "warm_heap" : "default_malloc", .fields(fields)))
        table.append(row.line(versus: nil) + pad(format(t.pageFaultsPerRun, 0), 8) + pad(format(ratio, 2) + "x", 7))
    }
    table.append("  ratio: the median over rounds of its time over that of loss + gradient, run in turn with it;")
    table.append("  faults: minor page faults per call")
    tables[.breakdown] = table + [""]
    entries[.breakdown] = [("breakdown", .fields(fieldsByHeap))]
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
    entries[.lossGrad] = [("loss_grad", .array(rows.map(\.json)))]
    var table: [String] = []
    table.append("Loss + d loss / d logp (\(options.lossType.rawValue), beta \(options.beta), epsilon \(options.epsilon), float64, \(buildConfiguration) build, \(cores) cores)")
    table.append(header)
    if let torch {
        table.append(pad("torch_bench.py", 24, left: true) + pad("\(options.completions)x\(options.maxLen)", 10)
            + pad("\(torch.validTokens)", 9) + pad(format(torch.medianSeconds * 1e3, 2), 10) + pad("", 17)
            + pad(format(torch.tokensPerSecond / 1e6, 1), 9) + pad("", 9) + pad("1.0x", 9))
    }
    table += rows.map { $0.line(versus: torch) }
    if let torch { table.append("  torch: \(torch.engine), median of 10 runs after 3 warm-ups (its own count of valid tokens)") }
    tables[.lossGrad] = table + [""]
}
if let torch {
    entries[.lossGrad, default: []].append(("torch", .fields([("engine", .string(torch.engine)), ("completions", .integer(options.completions)),
                                     ("max_len", .integer(options.maxLen)), ("valid_tokens", .integer(torch.validTokens)),
                                     ("median_seconds", .number(torch.medianSeconds)),
                                     ("tokens_per_second", .number(torch.tokensPerSecond))])))
}

// What `explain` does: both paths' breakdowns of the naive-sized batch, and how far apart they are.
if want.contains(.explain), let small {
    var naiveTimes: [Double] = [], vectorTimes: [Double] = []
    var maxGradDifference = 0.0, lossDifference = 0.0
    for _ in 0..<options.naiveRepeats {
        let t0 = now()
        guard let n = try? Naive.breakdown(small.batch, config: smallConfig) else { fail("the synthetic batch is invalid") }
        // The naive path frees about a million small autodiff nodes; glibc merges them on the
        // next large request, about 6 ms, which would land on the vectorized path's first
        // allocation. Charge it to the naive path, whose cost it is.
        Memory.mergeFreedChunks()
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
    entries[.explain] = [("explain", .fields([
        ("completions", .integer(small.completions)), ("max_len", .integer(small.maxLen)),
        ("valid_tokens", .integer(small.validTokens)), ("build", .string(buildConfiguration)),
        ("first_seconds", .number(first)), ("median_seconds", .number(medianTotal)), ("max_seconds", .number(worst)),
        ("naive_median_seconds", .number(naiveTimes.sorted()[naiveTimes.count / 2])),
        ("vectorized_median_seconds", .number(vectorTimes.sorted()[vectorTimes.count / 2])),
        ("loss_difference", .number(lossDifference)), ("max_grad_difference", .number(maxGradDifference)),
    ]))]
    var table: [String] = []
    table.append("explain-sized work: naive + vectorized breakdown of \(small.completions)x\(small.maxLen) (\(small.validTokens) tokens, \(buildConfiguration) build)")
    table.append("  first call \(format(first * 1e3, 1)) ms, median \(format(medianTotal * 1e3, 1)) ms, worst \(format(worst * 1e3, 1)) ms"
        + " (naive \(format(naiveTimes.sorted()[naiveTimes.count / 2] * 1e3, 1)) ms + vectorized \(format(vectorTimes.sorted()[vectorTimes.count / 2] * 1e3, 2)) ms)")
    table.append("  paths agree: |loss difference| \(lossDifference), max |grad difference| \(maxGradDifference)")
    tables[.explain] = table + [""]
}

// The tiny-policy training figures (Training.swift), when that section exists.
if want.contains(.training), let section = trainingSection(options) {
    entries[.training] = [("training", section.json)]
    tables[.training] = ["Training (tiny policy)"] + section.table + [""]
}

let order: [Options.Section] = [.lossGrad, .breakdown, .explain, .training]
report += order.flatMap { entries[$0] ?? [] }

if blackHole.isNaN { printError("a loss was NaN") }
if options.json {
    print(JSONValue.fields(report).rendered())
} else {
    // On a terminal the tables fit its width, as grpo-repl's do; piped, every column stays.
    let lines = order.flatMap { tables[$0] ?? [] }
    var size = winsize()
    let columns = isatty(STDOUT_FILENO) == 1 && ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : nil
    print((columns.map { Fmt.fit(lines, width: $0) } ?? lines).joined(separator: "\n"), terminator: "")
}
