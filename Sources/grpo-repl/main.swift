import REPLCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "explain" {
    let outcome = ExplainCommand.run(Array(arguments.dropFirst()))
    if !outcome.output.isEmpty { print(outcome.output) }
    for line in outcome.errors {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
    exit(outcome.status)
}
print("grpo-repl: the interactive REPL is not built yet; try: grpo-repl explain FILE")
