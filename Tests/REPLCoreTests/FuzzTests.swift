import Foundation
import GRPO
import TinyPolicy
import Testing
@testable import REPLCore

/// Random lines into one session: every line gets output or a one-line error, an error changes
/// nothing, and the session still works at the end.
///
/// `swift test` runs `FuzzLines.defaultCount` lines with a fixed seed in a few seconds. A deeper run:
///
///     GRPO_FUZZ_LINES=200000 GRPO_FUZZ_SEED=7 swift test --filter FuzzTests
///
/// `GRPO_FUZZ_TRACE=1` writes each line to standard error before running it (to find a crash).
///
/// Training is kept bounded so the test stays fast: `train N` above 3 is run as `train 3`, and
/// settings that multiply the work of one step (G, prompts, mu, max_completion_length, the naive
/// path, cross_check) are put back under a budget after the line that raised them. Both are
/// recorded as harness lines, never counted as the fuzzed session's own.
@Suite("Fuzz: random lines into the REPL")
struct FuzzTests {
    static let defaultCount = 3000

    static var lineCount: Int {
        ProcessInfo.processInfo.environment["GRPO_FUZZ_LINES"].flatMap { Int($0) } ?? defaultCount
    }

    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["GRPO_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_250_807
    }

    @Test("seeded random lines: output or one error line each, errors change nothing, the session still works")
    func randomLines() throws {
        let dir = TemporaryDirectory("grpo-fuzz")
        defer { dir.remove() }
        let session = Session(projectRoot: ProjectFiles.root)
        let interpreter = Interpreter(session: session)
        var lines = FuzzLines(seed: Self.seed, session: session, directory: dir.path)
        let count = Self.lineCount
        var errors = 0, outputs = 0, problems = 0
        var slowest: [(Double, String)] = []
        let trace = ProcessInfo.processInfo.environment["GRPO_FUZZ_TRACE"] != nil  // each line on stderr, to find a crash
        for n in 0..<count {
            let line = lines.next()
            let ran = FuzzLines.bounded(line, directory: dir.path)
            if trace {
                let state = "loss \(session.config.settings.map { "\($0)=\($1)" }.joined(separator: " ")) | "
                    + "training \(session.trainer.settings.values.map { "\($0)=\($1)" }.joined(separator: " ")) | step \(session.trainer.stepCount)"
                FileHandle.standardError.write(Data("fuzz \(n): \(FuzzLines.show(ran))\n  \(state)\n".utf8))
            }
            let before = SessionSnapshot(session)
            let start = Date()
            let reply = interpreter.execute(ran)
            let seconds = Date().timeIntervalSince(start)
            slowest.append((seconds, ran))
            if slowest.count > 40 { slowest = Array(slowest.sorted { $0.0 > $1.0 }.prefix(10)) }
            // A hang detector (gradcheck, the slowest per token, checks at most 400 tokens: under a second).
            if seconds > 30 { Issue.record("line \(n) \(FuzzLines.show(ran)) took \(seconds) s") }
            if let problem = replyProblem(reply) {
                problems += 1
                Issue.record("line \(n) \(FuzzLines.show(ran)): \(problem)\n\(reply.lines.prefix(3).joined(separator: "\n").prefix(300))")
            }
            if reply.isError {
                errors += 1
                let after = SessionSnapshot(session)
                if after != before {
                    problems += 1
                    Issue.record("line \(n) \(FuzzLines.show(ran)) failed but changed \(after.differences(from: before)): \(reply.lines[0].prefix(200))")
                }
            } else {
                outputs += 1
                let blank = (try? Interpreter.words(ran))?.isEmpty ?? false
                if !reply.quit && !blank && reply.lines.isEmpty && session.lessonProgress == nil {
                    Issue.record("line \(n) \(FuzzLines.show(ran)): no output and no error")
                }
            }
            FuzzLines.keepBudget(interpreter)
            if problems > 20 { break }
        }
        #expect(errors + outputs > 0)
        if trace {
            for (seconds, line) in slowest.sorted(by: { $0.0 > $1.0 }).prefix(10) {
                FileHandle.standardError.write(Data("slow: \(String(format: "%.3f", seconds)) s \(FuzzLines.show(line))\n".utf8))
            }
        }
        // The dir must hold only what the fuzz saved: no temporary files left by save.
        #expect(!dir.contents.contains { $0.contains(".tmp-") }, "\(dir.contents)")
        try Self.checkStillWorks(interpreter)
    }

    /// The commands of a first session all work: as the fuzz left the options (where training may
    /// refuse with its one-line reason, e.g. at temperature 1e-320), then with everyday options,
    /// with finite numbers.
    static func checkStillWorks(_ interpreter: Interpreter) throws {
        _ = interpreter.execute("lesson stop")
        for line in ["example", "loss", "rollout", "step", "advantages", "metrics", "history 3"] {
            let reply = interpreter.execute(line)
            let refused = reply.isError && (reply.lines[0].contains("cannot run:") || reply.lines[0].contains("was not made:")
                                            || reply.lines[0].contains("no rollout was sampled:"))
            #expect(!reply.isError || refused, "after the fuzz, '\(line)': \(reply.lines.joined(separator: "\n"))")
            #expect(!reply.lines.isEmpty, "after the fuzz, '\(line)' printed nothing")
        }
        for line in ["preset deepseekmath", "set temperature 1", "set sampler_temperature none", "set sampler_precision exact",
                     "set learning_rate 0.05", "set optimizer adam", "set num_iterations 1"] {
            #expect(!interpreter.execute(line).isError, "\(line)")
        }
        for line in ["example", "loss", "rollout", "step", "train 2", "advantages", "metrics", "history 3"] {
            let reply = interpreter.execute(line)
            #expect(!reply.isError, "after the fuzz and a reset of the options, '\(line)': \(reply.lines.joined(separator: "\n"))")
            #expect(!reply.lines.isEmpty, "after the fuzz, '\(line)' printed nothing")
        }
        _ = interpreter.execute("example")
        let loss = interpreter.execute("loss").lines.last { $0.hasPrefix("loss = ") } ?? ""
        #expect(loss.hasPrefix("loss = "), "\(loss)")
        let value = Double(loss.dropFirst("loss = ".count).prefix { $0 != " " })
        #expect(value?.isFinite == true, "\(loss)")
    }

    @Test("100k-character lines of every kind get one short error line quickly")
    func longLines() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let long = String(repeating: "x", count: 100_000)
        let quoted = "\"" + String(repeating: "a b\n", count: 25_000) + "\""
        for line in [long, "set " + long, "set \(long)=1", "set beta " + long, "train " + long, "help " + long,
                     "explain " + long, "load /" + long, "save /nonexistent-dir/" + long, "example " + long,
                     "chart " + long, "set " + quoted + "=1", "task " + quoted, String(repeating: "\u{1B}[2J", count: 25_000),
                     String(repeating: "\"", count: 100_001)] {
            let start = Date()
            let reply = interpreter.execute(line)
            let seconds = Date().timeIntervalSince(start)
            #expect(reply.isError, "\(line.prefix(20))...")
            #expect(replyProblem(reply) == nil, "\(line.prefix(20))...: \(replyProblem(reply) ?? "")")
            #expect((reply.lines.first?.count ?? 0) <= 1100, "\(line.prefix(20))...: an error line of \(reply.lines.first?.count ?? 0) characters")
            #expect(seconds < 2, "\(line.prefix(20))... took \(seconds) s")
        }
        #expect(interpreter.execute(String(repeating: " ", count: 100_000)) == Interpreter.Reply(lines: [], isError: false, quit: false))
    }
}

/// The seeded line generator.
struct FuzzLines {
    var rng: SeededGenerator
    let session: Session
    let directory: String

    init(seed: UInt64, session: Session, directory: String) {
        rng = SeededGenerator(seed: seed)
        self.session = session
        self.directory = directory
    }

    static let numbers = [
        "0", "-0", "1", "-1", "2", "3", "7", "8", "64", "65", "256", "257", "100000", "100001", "0.5", ".5", "5.", "+1", "--1",
        "1e", "0.2", "0.28", "1.0", "0.9999999999999999", "1e-9", "-1e-9", "1e308", "-1e308", "1e309", "1e999", "-1e999",
        "1e-320", "5e-324", "nan", "NaN", "-nan", "inf", "-inf", "infinity", "Infinity", "0x10", "1_000", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
        "999999999999999999999999999999", "none", "off", "true", "false", "yes", "٣", "１", "1,5", "1 000", "0b1",
    ]

    var paths: [String] {
        ["/nonexistent-grpo-fuzz/batch.json", "/nonexistent-grpo-fuzz/", directory, directory + "/", "/", "/dev/null",
         "/proc/self/status", directory + "/session.json", directory + "/batch.json", directory + "/missing.json",
         "lessons/data/example-batch.json", "", "\"\"", "/etc/passwd", directory + "/../", "~/nope.json"]
    }

    static let junk = ["all", "last", "=", "==", "\"", "\"a b\"", "#", "# comment", "key=", "=value", "\\", "'", "`", "$HOME",
                       ";", "|", "&&", "\u{0}", "\u{1B}[31m", "\u{7F}", "\u{8}", "\r", "\u{85}", "\u{2028}", "é", "🙂",
                       "\u{FEFF}", "\u{200B}", "\u{FFFD}", "a\u{301}", "stop", "standard", "trl", "paths", "loss_type", "presets"]

    mutating func pick<T>(_ xs: [T]) -> T { xs[rng.integer(0, xs.count - 1)] }
    mutating func chance(_ p: Double) -> Bool { rng.uniform() < p }

    /// One random token: a command name, an option key or value, a number, a path or junk.
    mutating func token() -> String {
        switch rng.integer(0, 9) {
        case 0: return pick(CommandTable.names)
        case 1: return pick(session.settings.map(\.key))
        case 2: return pick(session.settings.flatMap(\.suggestions) + TaskCatalog.names + Preset.allCases.map(\.rawValue))
        case 3, 4: return pick(Self.numbers)
        case 5: return pick(paths)
        case 6: return pick(Self.junk)
        case 7: return pick(session.settings.map(\.key)) + "=" + pick(Self.numbers + session.settings.flatMap(\.suggestions))
        case 8: return String(decoding: (0..<rng.integer(1, 8)).map { _ in UInt8(rng.integer(0, 255)) }, as: UTF8.self)
        default: return pick(SourceCommand.terms.map(\.term) + TrainingCommands.chartNames + ["1", "0", "-1"])
        }
    }

    mutating func next() -> String {
        switch rng.integer(0, 99) {
        case 0..<8:  // random bytes, decoded as the readers do (invalid UTF-8 becomes U+FFFD)
            let bytes = (0..<rng.integer(0, 120)).map { _ in UInt8(rng.integer(0, 255)) }
            return String(decoding: bytes.filter { $0 != 0x0A }, as: UTF8.self)
        case 8..<12:  // empty and whitespace-only
            return pick(["", " ", "\t", "   \t  ", "\u{A0}", "\u{3000}", "\r", "\u{B}\u{C}", "#", "  # just a comment"])
        case 12..<14:  // control characters mixed into a command
            let name = pick(CommandTable.names)
            let controls = (0..<rng.integer(1, 5)).map { _ in Character(Unicode.Scalar(UInt8(rng.integer(0, 31)))) }
            return chance(0.5) ? name + String(controls) : String(controls) + name + " " + token()
        case 14:  // very long lines (rare: each costs a little)
            let unit = pick(["x", "1", "set ", "\"", " ", "9", "ratio all ", "é", "\u{1B}"])
            let n = 100_000 / unit.count
            return chance(0.5) ? String(repeating: unit, count: n) : pick(CommandTable.names) + " " + String(repeating: unit, count: n)
        case 15..<45:  // a command name and random tokens
            return ([pick(CommandTable.names)] + (0..<rng.integer(0, 4)).map { _ in token() }).joined(separator: " ")
        case 45..<65:  // set with valid keys and random or suggested values
            let key = pick(session.settings.map(\.key))
            let value = chance(0.5) ? pick(Self.numbers) : pick(session.settings.flatMap(\.suggestions) + [token()])
            return pick(["set \(key)=\(value)", "set \(key) \(value)", "set \(key) = \(value)", "set \(key)= \(value)",
                         "set \(key) \(value) \(token())", "set \(key)", "set =\(value)", "set \"\(key)\"=\"\(value)\""])
        case 65..<75:  // files: explain, load, save, savebatch with paths that exist or not
            let command = pick(["explain", "load", "save", "savebatch", "source", "lesson"])
            return "\(command) \(chance(0.8) ? pick(paths) : token())"
        case 75..<90:  // valid commands, sometimes with a broken argument
            let valid = ["example", "example trl", "rollout", "step", "iterate", "train 2", "advantages", "ratio all", "clip",
                         "kl", "loss", "grad", "tokens", "metrics", "compare", "compare loss_type", "compare presets",
                         "config", "tasks", "task", "policy", "policy 1", "history", "chart", "chart all last 5", "reference",
                         "new", "new 3", "preset dapo", "preset gspo", "preset deepseekmath", "logprobs", "help", "help set",
                         "save \(directory)/session.json", "load \(directory)/session.json", "savebatch \(directory)/batch.json",
                         "explain \(directory)/batch.json", "lessons", "source clip"]
            let line = pick(valid)
            return chance(0.5) ? line : line + " " + token()
        default:  // one word of junk, or a token alone
            return chance(0.5) ? token() : pick(Self.junk) + pick(CommandTable.names)
        }
    }

    /// The line as run: a `train N` above 3 runs 3 iterations, and `save`/`savebatch` write only
    /// inside the test's directory (or fail on a missing one), never in the working directory.
    static func bounded(_ line: String, directory: String) -> String {
        guard let words = try? Interpreter.words(line), let first = words.first,
              let command = CommandTable.command(named: first) else { return line }
        switch command.name {
        case "train":
            if words.count == 2, let n = Int(words[1]), n > 3 { return "train 3" }
        case "save", "savebatch":
            if words.count == 2 {
                let path = words[1]
                if path.hasPrefix(directory) || path.hasPrefix("/nonexistent-grpo-fuzz") { return line }
                let name = path.split(separator: "/").last.map(String.init) ?? "x"
                let safe = String(name.unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) }.prefix(40).map(Character.init))
                return "\(command.name) \"\(directory)/f-\(safe.isEmpty ? "x" : safe)\""
            }
        default: break
        }
        return line
    }

    /// Puts the settings that multiply the cost of one step back under a budget (harness lines,
    /// checked to succeed).
    static func keepBudget(_ interpreter: Interpreter) {
        let s = interpreter.session.trainer.settings
        var fixes: [String] = []
        if s.numGenerations > 16 { fixes.append("set num_generations 16") }
        if s.promptsPerIteration > 4 { fixes.append("set prompts_per_iteration 4") }
        if s.numIterations > 4 { fixes.append("set num_iterations 4") }
        if s.maxCompletionLength > 16 { fixes.append("set max_completion_length 16") }
        if s.path == .naive && (s.crossCheck || s.numGenerations * s.promptsPerIteration > 32) { fixes.append("set path vectorized") }
        if s.crossCheck && s.numGenerations * s.promptsPerIteration > 32 { fixes.append("set cross_check false") }
        if interpreter.session.rowLimit > 200 { fixes.append("set rows 200") }
        for fix in fixes {
            let reply = interpreter.execute(fix)
            #expect(!reply.isError, "harness line '\(fix)': \(reply.lines)")
        }
    }

    /// A line for a failure message: control characters visible, long lines cut.
    static func show(_ line: String) -> String {
        let visible = line.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
        return "'" + (visible.count > 120 ? String(visible.prefix(120)) + "...(\(line.count) chars)" : visible) + "'"
    }
}
