#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One run of `torch_bench.py --json` (PyTorch eager, float64, the TRL-shaped loss + backward)
/// with the same shape, loss type and beta, for a side-by-side figure in the same session.
struct TorchResult {
    let engine: String
    let validTokens: Int
    let medianSeconds: Double
    var tokensPerSecond: Double { Double(validTokens) / medianSeconds }
}

enum TorchRunError: Error {
    case failed(String)
}

func runTorchBench(python: String, script: String, options o: Options) throws(TorchRunError) -> TorchResult {
    guard access(script, R_OK) == 0 else {
        throw .failed("torch_bench.py not found at '\(script)' (set --torch-script)")
    }
    // torch_bench.py (a copy of the reference script) has the four clip-and-min loss types.
    guard ["grpo", "bnpo", "dapo", "dr_grpo"].contains(o.lossType.rawValue) else {
        throw .failed("torch_bench.py times grpo, bnpo, dapo and dr_grpo, not \(o.lossType.rawValue); drop --torch or pick one of them")
    }
    let arguments = [python, script, "--completions", "\(o.completions)", "--max-len", "\(o.maxLen)",
                     "--loss-type", o.lossType.rawValue, "--beta", "\(o.beta)", "--json"]
    // stderr is dropped: PyTorch warns about a missing NumPy, which torch_bench.py does not use.
    let command = arguments.map(shellQuote).joined(separator: " ") + " 2>/dev/null"
    guard let pipe = popen(command, "r") else { throw .failed("could not start '\(python)'") }
    var output = ""
    var buffer = [CChar](repeating: 0, count: 4096)
    while fgets(&buffer, Int32(buffer.count), pipe) != nil {
        output += String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    let status = pclose(pipe)
    let lastLine = output.split(separator: "\n").last.map(String.init) ?? ""
    guard status == 0, let fields = flatFields(lastLine),
          let tokens = fields["valid_tokens"].flatMap({ Int($0) }),
          let median = fields["median_seconds"].flatMap({ Double($0) }) else {
        throw .failed("'\(python) \(script)' failed (status \(status)); is torch installed in that Python?")
    }
    return TorchResult(engine: fields["engine"] ?? "torch", validTokens: tokens, medianSeconds: median)
}

private func shellQuote(_ s: String) -> String {
    "'" + s.replacingAll("'", with: "'\\''") + "'"
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
