import Foundation
import Testing

/// The built grpo-repl under hostile conditions: a reader that goes away, Ctrl-C during `train`,
/// bytes that are not UTF-8, endless lines, broken batch files for `explain`.
@Suite("Robustness: the grpo-repl executable")
struct RobustnessExecutableTests {
    /// Runs grpo-repl with `input` bytes on standard input.
    static func run(_ arguments: [String], input: Data) throws -> Executable.Result {
        try Executable.run(arguments, bytes: input)
    }

    @Test("output piped to a reader that closes early (grpo-repl --script s.txt | head -1) ends quietly with status 0",
          arguments: [["--script"], ["explain", "--all"], ["stdin"]])
    func closedPipe(_ mode: [String]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-pipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("s.txt").path
        try Data((Array(repeating: "help", count: 300) + ["train 30", "tokens all"] + Array(repeating: "config", count: 300))
            .joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: script))
        let batch = dir.appendingPathComponent("b.json").path
        let completions = (0..<64).map { _ in #"{"logp": [\#(Array(repeating: "-0.5", count: 64).joined(separator: ", "))]}"# }
        try Data(#"{"config": {"beta": 0}, "groups": [{"rewards": [\#((0..<64).map { "\($0 % 2)" }.joined(separator: ", "))], "completions": [\#(completions.joined(separator: ", "))]}]}"#.utf8)
            .write(to: URL(fileURLWithPath: batch))

        let process = Process()
        process.executableURL = Executable.url
        switch mode[0] {
        case "--script": process.arguments = ["--script", script]
        case "explain": process.arguments = ["explain", batch, "--all"]
        default: process.arguments = []
        }
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = dir.path
        process.environment = env
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = mode[0] == "stdin" ? FileHandle(forReadingAtPath: script) : FileHandle.nullDevice
        try process.run()
        // Read one line, like `head -1`, then go away.
        var first = Data()
        while !first.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            first.append(chunk)
        }
        try stdout.fileHandleForReading.close()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(!first.isEmpty)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0,
                "\(mode): \(process.terminationReason == .exit ? "exit" : "signal") \(process.terminationStatus)")
        #expect(err.isEmpty, "\(mode): stderr: \(String(decoding: err.prefix(500), as: UTF8.self))")
    }

    @Test("Ctrl-C (SIGINT) during train stops at a step boundary, keeps every step, and the script goes on")
    func interruptTrain() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-int-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("s.txt").path
        let saved = dir.appendingPathComponent("after.json").path
        try Data("train 100000\nhistory 1\nsave \(saved)\n".utf8).write(to: URL(fileURLWithPath: script))
        // SIGINT, as Ctrl-C sends, a second into the run. The test runner's thread blocks SIGINT,
        // and the child inherits that mask: grpo-repl must unblock it (it once did not, and ignored Ctrl-C).
        let result = try Executable.run(["--script", script], bytes: nil, environment: ["HOME": dir.path]) { process in
            Thread.sleep(forTimeInterval: 1.0)
            process.interrupt()
        }
        let text = result.stdout
        #expect(result.reason == .exit && result.status == 0)
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let stopped = text.split(separator: "\n").first { $0.hasPrefix("stopped at a step boundary: ") }
        let kept = stopped.flatMap { Int($0.dropFirst("stopped at a step boundary: ".count).prefix { $0.isNumber }) }
        #expect(kept != nil && kept! > 0, "\(text.prefix(400))")
        if let kept {
            #expect(text.contains("wrote \(saved): task copy, seed 0, \(kept) step(s)"), "\(text.suffix(300))")
        }
    }

    @Test("bytes that are not UTF-8, NUL, escape sequences, a 1 MB line, CR LF, and no final newline: every line answered, exit 0")
    func hostileStdin() throws {
        var input = Data()
        input.append(Data([0xFF, 0xFE, 0x80, 0x0A]))                     // invalid UTF-8
        input.append(Data("set beta\u{0}0\n".utf8))                        // NUL inside a word
        input.append(Data("\u{1B}[2J\u{1B}]0;title\u{7}help\n".utf8))       // escape sequences
        input.append(Data(String(repeating: "x", count: 1_000_000).utf8))  // one 1 MB line
        input.append(Data("\n".utf8))
        input.append(Data("example\r\nloss\r\n".utf8))                     // Windows line ends
        input.append(Data([0xC3, 0x0A]))                                   // a cut multibyte character
        input.append(Data("set \"unclosed\n".utf8))
        input.append(Data("rollout".utf8))                                 // no final newline
        let result = try Self.run([], input: input)
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty, "\(result.stderr.prefix(500))")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let errors = lines.filter { $0.hasPrefix("error: ") }
        #expect(errors.count == 6, "\(errors.map { $0.prefix(100) })")
        #expect(errors.allSatisfy { $0.count <= 1100 })
        #expect(result.stdout.contains("loss = 0.") && result.stdout.contains("rollout 1:"), "\(result.stdout.suffix(500))")
    }

    @Test("command-line mistakes: exit code 2 and one error line (a directory as --script once ran nothing and exited 0)")
    func badCommandLines() throws {
        let dir = FileManager.default.temporaryDirectory.path
        for (args, expected) in [(["--script", dir], "error: cannot open \(dir): is a directory"),
                                 (["--script", "/nonexistent/s.txt"], "error: cannot open /nonexistent/s.txt: No such file or directory"),
                                 (["lesson", "99"], "error: no lesson '99'"), (["lesson", "\u{1B}[2J"], "error: no lesson"),
                                 (["--scrpit"], "error: unknown option '--scrpit'. Did you mean '--script'?"),
                                 (["--script"], "error: missing value for '--script <file>'"),
                                 (["lesson", "1", "--script", "x"], "error: unknown option '--script'; 'grpo-repl lesson --help'")] {
            let result = try Self.run(args, input: Data())
            #expect(result.status == 2, "\(args): status \(result.status)")
            #expect((result.stdout + result.stderr).contains(expected), "\(args): \(result.stdout) \(result.stderr)")
        }
    }

    @Test("explain with a broken batch file: exit code 2, nothing on stdout, one line on stderr naming the file and the field")
    func explainBrokenFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-explain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [
            ("", "not valid JSON: line 1, column 1"),
            (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1, -2"#, "the document ends inside a list"),
            (#"{"groups": [{"rewards": [1, "0"], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#, "groups[0].rewards[1]: expected a number"),
            (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1, -2], "old_logp": [-1]}, {"logp": [-1]}]}]}"#, "groups[0].completions[0].old_logp: 1 values, but logp has 2"),
            (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [NaN]}, {"logp": [-1]}]}]}"#, "NaN and Infinity are not JSON"),
            (#"{"groups": [{"rewards": [1e999, 0], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#, "too large for a double"),
            (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [0.1]}, {"logp": [-1]}]}]}"#, "groups[0].completions[0].logp[0]: 0.1 is above 0"),
            (#"{"config": {"beta": 0, "top_entropy_quantile": 0.5}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-1], "entropy": [-2]}, {"logp": [-1], "entropy": [1]}]}]}"#, "entropy[0]: -2 is below 0"),
            (#"{"config": {"beta": 0, "loss_type": "dr_grpo", "max_completion_length": 1}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-1, -1]}, {"logp": [-1]}]}]}"#, "more than max_completion_length=1"),
            (#"{"groups": [{"rewards": [1, 0], "rewards": [1, 0], "completions": []}]}"#, #"the key "rewards" appears twice"#),
            (String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000), "nested deeper than 64 levels"),
        ]
        for (k, (text, expected)) in cases.enumerated() {
            let path = dir.appendingPathComponent("b\(k).json").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let result = try Executable.run(["explain", path])
            #expect(result.status == 2, "\(expected): status \(result.status)")
            #expect(result.stdout.isEmpty)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("error: \(path): ") && lines[0].contains(expected), "\(result.stderr)")
        }
        // Over the size limit: a sparse file of 100 MB, refused before it is read.
        let big = dir.appendingPathComponent("big.json").path
        FileManager.default.createFile(atPath: big, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        try handle.truncate(atOffset: 100 << 20)
        try handle.close()
        let result = try Executable.run(["explain", big])
        #expect(result.status == 2 && result.stderr == "error: \(big): 100 MB is larger than the 64 MB this reads\n", "\(result.stderr)")
    }
}

@Suite("Write errors")
struct WriteErrorTests {
    @Test("output that cannot be written (a full disk: /dev/full) exits 1 with one line, as cat does",
          arguments: [["explain", "--json"], ["--script"], ["explain", "--check"]])
    func fullDisk(mode: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let batch = root.appendingPathComponent("lessons/data/example-batch.json").path
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-full-\(getpid()).txt")
        try "example\nloss\n".write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let process = Process()
        process.executableURL = Executable.url
        process.arguments = mode[0] == "explain" ? ["explain", batch, mode[1]] : ["--script", script.path]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
        let stderr = Pipe()
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 1, "\(mode)")
        #expect(message == "grpo-repl: cannot write to standard output: No space left on device\n", "\(message)")
    }
}

@Suite("Text from files reaches the terminal printable")
struct FileTextTests {
    /// A batch file whose logged source and an unknown logged key carry an OSC title sequence,
    /// BEL, NUL and a C1 CSI (U+009B).
    static let hostile = #"""
    {"config": {"beta": 0}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-1.0]}, {"logp": [-2.0]}]}],
     "logged": {"source": "\u001b]0;pwned\u0007 run \u009b2J", "loss": 0, "\u001b[2Jkey\u0000": 1}}
    """#

    @Test("explain, its --json and the session's explain print no control character from the file", arguments: ["text", "json", "session"])
    func noControls(_ mode: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-hostile-\(getpid())-\(mode).json").path
        try Self.hostile.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = switch mode {
        case "text": try Executable.run(["explain", path])
        case "json": try Executable.run(["explain", path, "--json"])
        default: try Executable.run([], input: "explain \(path)\n")
        }
        #expect(result.status == 0, "\(result.stderr)")
        let controls = (result.stdout + result.stderr).unicodeScalars.filter {
            ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value)
        }
        #expect(controls.isEmpty, "\(mode): \(controls.map { String($0.value, radix: 16) })")
        #expect((result.stdout).contains(mode == "json" ? "\\u001b]0;pwned" : "?]0;pwned"), "\(result.stdout.prefix(300))")
    }
}
