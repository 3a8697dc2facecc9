import Foundation
import GRPO
import TinyPolicy
import Testing
@testable import REPLCore

/// Broken session files (`load`) and batch files (`explain FILE`): one line naming the file and
/// the field, and the session exactly as it was. `save` writes atomically.
@Suite("Robustness: files")
struct RobustnessFileTests {
    /// A session with something to lose: trained steps mid-iteration, options changed, and the
    /// example batch (not the trainer's) on screen.
    func busySession() -> Interpreter {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        for line in ["set num_iterations 2", "train 2", "step", "set beta 0.1", "example trl", "set rows 7", "set show_path vectorized"] {
            let reply = interpreter.execute(line)
            precondition(!reply.isError, "\(line): \(reply.lines)")
        }
        return interpreter
    }

    /// Runs `line`, expecting one error line that names `file` and contains `expected`, and no change.
    func expectRefused(_ interpreter: Interpreter, _ line: String, file: String, _ expected: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let before = SessionSnapshot(interpreter.session)
        let reply = interpreter.execute(line)
        #expect(replyProblem(reply) == nil, "\(replyProblem(reply) ?? "")", sourceLocation: sourceLocation)
        #expect(reply.isError && reply.lines.count == 1, "\(line): \(reply.lines)", sourceLocation: sourceLocation)
        let message = reply.lines.first ?? ""
        #expect(message.hasPrefix("error: \(file)"), "does not start with the file: \(message)", sourceLocation: sourceLocation)
        #expect(message.contains(expected), "\(message)\n  should contain: \(expected)", sourceLocation: sourceLocation)
        let after = SessionSnapshot(interpreter.session)
        #expect(after == before, "\(line) changed \(after.differences(from: before))", sourceLocation: sourceLocation)
    }

    /// The session file of a busy session, as a JSON tree with its seed and generator state made
    /// small (so that our writer renders every whole number exactly).
    func savedSession(_ dir: TemporaryDirectory) -> JSONValue {
        let interpreter = busySession()
        let path = dir.file("base.json")
        #expect(!interpreter.execute("save \(path)").isError)
        var json = try! JSONParser.parse(Array(FileManager.default.contents(atPath: path)!))
        json = replacing(json, "trainer.rng.state", with: .number(12345))
        return json
    }

    @Test("load: broken, hand-edited, truncated and foreign session files leave the session exactly as it was")
    func loadRefusals() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let base = savedSession(dir)
        let huge = 9.223372036854775807e18
        let cases: [(String, JSONValue?, String)] = [
            ("version", .number(2), "written by a newer grpo-repl (session version 2); this one reads version 1"),
            ("version", .number(1e300), "written by a newer grpo-repl"),
            ("version", .number(-1e300), "version: must be a whole number"),
            ("version", .number(1.5), "version: must be a whole number"),
            ("version", .string("1"), "version: expected a number, found a string"),
            ("version", nil, "the session file has no version"),
            ("format", .string("something else"), "not a grpo-repl session file"),
            ("trainer.step_count", .number(huge), "trainer.step_count: must be a whole number from 0 to 2^40"),
            ("trainer.iteration_count", .number(-5), "trainer.iteration_count: must be a whole number"),
            ("trainer.inner_steps_done", .number(huge), "trainer.inner_steps_done"),
            ("trainer.optimizer.stepCount", .number(huge), "trainer.optimizer.stepCount"),
            ("trainer.history.0.step", .number(huge), "trainer.history[0].step"),
            ("trainer.history.1.innerStep", .number(-1), "trainer.history[1].innerStep"),
            ("trainer.current_rollout.groupSize", .number(4.611686018427387904e18), "trainer.current_rollout.groupSize"),
            ("trainer.current_rollout.iteration", .number(huge), "trainer.current_rollout.iteration"),
            ("trainer.current_rollout.prompts.0", .number(99), "trainer.current_rollout"),
            ("trainer.current_rollout.completions.0.0", .number(99), "trainer.current_rollout"),
            ("trainer.current_rollout.oldLogp.0", .array([]), "trainer.current_rollout"),
            ("trainer.current_rollout.temperature", .number(-1), "trainer.current_rollout"),
            ("trainer.settings.seed", .number(-1), "trainer.settings.seed: must be a whole number from 0 to 2^64 - 1"),
            ("trainer.settings.seed", .number(1.5), "trainer.settings.seed"),
            ("trainer.rng.state", .number(1e30), "trainer.rng.state"),
            ("trainer.settings.num_generations", .string("8"), "trainer.settings.num_generations"),
            ("trainer.settings.num_generations", .number(100_000), "num_generations must be a whole number in [2, 256]"),
            ("trainer.settings.temperature", .number(0), "temperature must be a number in (0, 100]"),
            ("trainer.settings.task", .string("chess"), "task must be one of"),
            ("trainer.loss_config.epsilon", .string("500"), "trainer.loss_config.epsilon: epsilon must be"),
            ("trainer.loss_config.epsilon", .number(0.2), "trainer.loss_config.epsilon"),
            ("trainer.loss_config.gamma", .string("1"), "trainer.loss_config.gamma"),
            ("trainer.policy.parameters.0", .null, "trainer.policy.parameters[0]"),
            ("trainer.policy.parameters.0", nil, "trainer.policy: the parameters do not fit"),
            ("trainer.policy.vocabularySize", .number(huge), "trainer.policy.vocabularySize"),
            ("trainer.optimizer.secondMoment.0", .number(-1), "trainer.optimizer.secondMoment[0]"),
            ("trainer.optimizer.firstMoment.0", nil, "trainer.optimizer"),
            ("display.rows", .number(0), "display: rows must be"),
            ("display.show_path", .string("both"), "show_path naive or vectorized"),
            ("trainer", nil, "trainer: missing"),
            ("trainer.history", nil, "trainer.history: missing"),
            ("trainer.settings", .array([]), "trainer.settings"),
        ]
        let interpreter = busySession()
        for (k, (path, value, expected)) in cases.enumerated() {
            let file = dir.write("case\(k).json", replacing(base, path, with: value).rendered(pretty: true))
            expectRefused(interpreter, "load \(file)", file: file, expected)
        }
        // Text-level damage.
        let text = base.rendered(pretty: true)
        for cut in [0, 1, 2, 50, text.utf8.count / 2, text.utf8.count - 1] {
            let file = dir.write("cut\(cut).json", String(decoding: Array(text.utf8.prefix(cut)), as: UTF8.self))
            expectRefused(interpreter, "load \(file)", file: file, cut == 0 ? "the document ends where a value was expected" : "not valid JSON: line")
        }
        let duplicated = dir.write("dup.json", "{\"version\": 1, " + text.dropFirst())
        expectRefused(interpreter, "load \(duplicated)", file: duplicated, "the key \"version\" appears twice")
        let nan = dir.write("nan.json", text.replacingOccurrences(of: "\"step_count\" : ", with: "\"step_count\" : NaN, \"x\": ")
                                              .replacingOccurrences(of: "\"step_count\": ", with: "\"step_count\": NaN, \"x\": "))
        expectRefused(interpreter, "load \(nan)", file: nan, "NaN and Infinity are not JSON")
        let big = dir.write("big.json", text.replacingOccurrences(of: "\"step_count\": ", with: "\"step_count\": 1e999, \"x\": "))
        expectRefused(interpreter, "load \(big)", file: big, "too large for a double")
        let list = dir.write("list.json", "[" + text + "]")
        expectRefused(interpreter, "load \(list)", file: list, "not a grpo-repl session file")
        let batch = dir.write("batch.json", #"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-2]}]}]}"#)
        expectRefused(interpreter, "load \(batch)", file: batch, "batch files load with 'explain'")
        let deep = dir.write("deep.json", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))
        expectRefused(interpreter, "load \(deep)", file: deep, "nested deeper than 64 levels")
        let binary = dir.write("binary.json", String(decoding: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 131) }, as: UTF8.self))
        expectRefused(interpreter, "load \(binary)", file: binary, "not valid JSON")
        expectRefused(interpreter, "load \(dir.path)", file: dir.path, "is a directory")
        expectRefused(interpreter, "load \(dir.file("missing.json"))", file: dir.file("missing.json"), "No such file or directory")
        expectRefused(interpreter, "load /nonexistent-dir/s.json", file: "/nonexistent-dir/s.json", "No such file or directory")
        expectRefused(interpreter, "load /dev/null", file: "/dev/null", "is a character device, not a regular file")
        // The file is fine: it loads (with a byte-order mark, too).
        let good = dir.write("good.json", text)
        #expect(!interpreter.execute("load \(good)").isError)
        let bom = dir.write("bom.json", "\u{FEFF}" + text)
        let reply = interpreter.execute("load \(bom)")
        #expect(!reply.isError, "\(reply.lines)")
    }

    @Test("load and explain refuse a file that opens but cannot be read (/proc/self/mem at 0: EIO, also as root, which CI is)")
    func unreadable() throws {
        let interpreter = busySession()
        expectRefused(interpreter, "load /proc/self/mem", file: "/proc/self/mem", "Input/output error")
        expectRefused(interpreter, "explain /proc/self/mem", file: "/proc/self/mem", "Input/output error")
    }

    @Test("load and explain refuse a file they may not open", .enabled(if: geteuid() != 0, "as root, chmod 000 does not stop reading"))
    func notPermitted() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.write("s.json", "{}")
        chmod(file, 0)
        let interpreter = busySession()
        expectRefused(interpreter, "load \(file)", file: file, "Permission denied")
        expectRefused(interpreter, "explain \(file)", file: file, "Permission denied")
    }

    @Test("files above the 64 MB limit (sparse, made with ftruncate) are refused before reading; /dev/zero as a device, unread")
    func sizeLimit() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let interpreter = busySession()
        for (name, size) in [("over.json", InputFile.defaultLimit + 1), ("100mb.json", 100 << 20)] {
            let path = dir.file(name)
            let fd = open(path, O_CREAT | O_WRONLY, 0o644)
            try #require(fd >= 0)
            try #require(ftruncate(fd, off_t(size)) == 0)
            close(fd)
            expectRefused(interpreter, "load \(path)", file: path, "larger than the 64 MB this reads")
            expectRefused(interpreter, "explain \(path)", file: path, "larger than the 64 MB this reads")
        }
        // Exactly at the limit is read (and is not JSON: a sparse file is all zero bytes).
        let at = dir.file("at.json")
        let fd = open(at, O_CREAT | O_WRONLY, 0o644)
        ftruncate(fd, off_t(InputFile.defaultLimit))
        close(fd)
        expectRefused(interpreter, "explain \(at)", file: at, "not valid JSON")
        expectRefused(interpreter, "explain /dev/zero", file: "/dev/zero", "is a character device, not a regular file")
    }

    @Test("a valid but extreme session file (theta at 1e308) loads, and every command answers without trapping")
    func extremeButValidSession() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let base = savedSession(dir)
        var json = replacing(base, "trainer.policy.parameters.0", with: .number(1e308))
        json = replacing(json, "trainer.history.0.loss", with: .number(1e308))
        json = replacing(json, "trainer.history.1.loss", with: .number(-1e308))
        json = replacing(json, "trainer.current_rollout.rewards.0", with: .number(1e308))
        let file = dir.write("extreme.json", json.rendered())
        let interpreter = busySession()
        #expect(!interpreter.execute("load \(file)").isError)
        for line in ["history", "chart all", "policy", "policy 0", "loss", "tokens", "compare", "compare presets", "metrics",
                     "rollout", "step", "iterate", "train 3", "reference", "save \(dir.file("again.json"))", "new", "step"] {
            let reply = interpreter.execute(line)
            #expect(replyProblem(reply) == nil, "\(line): \(replyProblem(reply) ?? "")")
            #expect(!reply.lines.isEmpty, "\(line) printed nothing")
        }
    }

    @Test("explain FILE in the REPL: bad batch files give one line naming the file and field; the session stays as it was")
    func explainRefusals() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let interpreter = busySession()
        for (k, (text, expected)) in BadBatches.cases.enumerated() {
            let file = dir.write("b\(k).json", text)
            expectRefused(interpreter, "explain \(file)", file: file, expected)
        }
        expectRefused(interpreter, "explain \(dir.path)", file: dir.path, "is a directory")
        expectRefused(interpreter, "explain \(dir.file("missing.json"))", file: dir.file("missing.json"), "No such file or directory")
    }

    @Test("save is atomic: no temporary file left; a failed save (missing directory, a directory in the way) says why and keeps the old file")
    func atomicSave() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let interpreter = busySession()
        let target = dir.file("s.json")
        #expect(!interpreter.execute("save \(target)").isError)
        #expect(!interpreter.execute("savebatch \(dir.file("b.json"))").isError)
        #expect(!interpreter.execute("save \(target)").isError)  // over an existing file
        #expect(dir.contents == ["b.json", "s.json"], "\(dir.contents)")

        // Into a directory that does not exist.
        let missing = dir.file("no-such-dir/s.json")
        let r1 = interpreter.execute("save \(missing)")
        #expect(r1.isError && r1.lines[0].hasPrefix("error: \(missing): No such file or directory"), "\(r1.lines)")
        // Over a directory: the rename fails, the temporary file is removed.
        try FileManager.default.createDirectory(atPath: dir.file("adir"), withIntermediateDirectories: false)
        let r2 = interpreter.execute("save \(dir.file("adir"))")
        #expect(r2.isError && r2.lines[0].hasPrefix("error: \(dir.file("adir")):"), "\(r2.lines)")
        // The temporary file's name cannot be planted: a symbolic link at the old fixed name
        // (TARGET.tmp-PID) to another file leaves that file alone; the target keeps its mode
        // 0600; a killed save's temporary (a PID no longer running) is removed.
        let victim = dir.write("victim.txt", "untouched")
        try FileManager.default.createSymbolicLink(atPath: target + ".tmp-\(getpid())", withDestinationPath: victim)
        let stale = dir.write(".s.json.tmp-999999-abcdef", "half a session")
        chmod(target, 0o600)
        _ = interpreter.execute("step")
        #expect(!interpreter.execute("save \(target)").isError)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched")
        var mode = stat()
        #expect(stat(target, &mode) == 0 && mode.st_mode & 0o777 == 0o600)
        #expect(!FileManager.default.fileExists(atPath: stale))
        try FileManager.default.removeItem(atPath: target + ".tmp-\(getpid())")
        try FileManager.default.removeItem(atPath: victim)
        #expect(dir.contents == ["adir", "b.json", "s.json"], "temporary files left: \(dir.contents)")
        // A read-only directory (as root, directories are writable whatever their mode: skipped).
        if geteuid() != 0 {
            let ro = dir.file("ro")
            try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: false)
            #expect(!interpreter.execute("save \(ro)/s.json").isError)
            let before = try String(contentsOfFile: ro + "/s.json", encoding: .utf8)
            chmod(ro, 0o555)
            _ = interpreter.execute("step")
            let r4 = interpreter.execute("save \(ro)/s.json")
            #expect(r4.isError && r4.lines[0].contains("Permission denied"), "\(r4.lines)")
            #expect(try String(contentsOfFile: ro + "/s.json", encoding: .utf8) == before)
            chmod(ro, 0o755)
        }
        // /proc cannot hold a file (as root too).
        let r5 = interpreter.execute("save /proc/grpo-test.json")
        #expect(r5.isError && r5.lines[0].hasPrefix("error: /proc/grpo-test.json:"), "\(r5.lines)")
        // A symbolic link stays a link to the file it names, which gets the new contents.
        let real = dir.write("real.json", "{}")
        let link = dir.file("link.json")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        #expect(!interpreter.execute("save \(link)").isError)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == real)
        #expect((try String(contentsOfFile: real, encoding: .utf8)).contains("grpo-swift session"))
        // A device is written in place, never renamed over: 'save /dev/null' once replaced
        // /dev/null with a regular file when run as root. Tried on a null device of our own.
        let device = dir.file("null-device")
        if mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0 {  // makedev(1, 3)
            #expect(!interpreter.execute("save \(device)").isError)
            #expect(!interpreter.execute("savebatch \(device)").isError)
            var info = stat()
            #expect(stat(device, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR, "the device was replaced")
            try FileManager.default.removeItem(atPath: device)
        }
        let r6 = interpreter.execute("savebatch \(dir.path)")
        #expect(r6.lines == ["error: \(dir.path): is a directory"])
        #expect(!dir.contents.contains { $0.contains(".tmp-") }, "\(dir.contents)")
        // What was saved loads back to the same run.
        let check = busySession()
        #expect(!check.execute("load \(target)").isError)
        // The busy session's 5 steps and the one made before the last save.
        #expect(check.session.trainer.stepCount == 6)
    }
}

/// Batch files `explain` must refuse, with a piece of the one-line message each must give.
enum BadBatches {
    static let ok = #"{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-2]}]}"#

    static let cases: [(String, String)] = [
        ("", "not valid JSON: line 1, column 1: the document ends where a value was expected"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1, -2"#, "not valid JSON: line 1, column 65: the document ends inside a list"),
        (#"{"groups": [{"rewards": [1, "0"], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#, "groups[0].rewards[1]: expected a number or null, found a string"),
        (#"{"groups": {"rewards": [1, 0]}}"#, "groups: expected a list, found an object"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": "-1"}, {"logp": [-1]}]}]}"#, "groups[0].completions[0].logp: expected a list of numbers, found a string"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1, -2], "ref_logp": [-1]}, {"logp": [-1], "ref_logp": [-1]}]}]}"#,
         "groups[0].completions[0].ref_logp: 1 values, but logp has 2"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1], "old_logp": [-1, -2]}, {"logp": [-1]}]}]}"#,
         "groups[0].completions[0].old_logp: 2 values, but logp has 1"),
        (#"{"groups": [{"rewards": [1, 0, 1], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#, "groups[0]: 3 rewards but 2 completions"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [NaN]}, {"logp": [-1]}]}]}"#, "NaN and Infinity are not JSON"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-Infinity]}, {"logp": [-1]}]}]}"#, "NaN and Infinity are not JSON"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [Infinity]}, {"logp": [-1]}]}]}"#, "NaN and Infinity are not JSON"),
        (#"{"groups": [{"rewards": [1e999, 0], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#, "line 1, column 26: the number is too large for a double"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [0.5]}, {"logp": [-1]}]}]}"#, "groups[0].completions[0].logp[0]: 0.5 is above 0, and a log-probability is <= 0"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1], "ref_logp": [1e-300]}, {"logp": [-1]}]}]}"#, "groups[0].completions[0].ref_logp[0]: 1e-300 is above 0"),
        (#"{"config": {"beta": 0, "top_entropy_quantile": 0.5}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-1], "entropy": [-1]}, {"logp": [-1], "entropy": [1]}]}]}"#,
         "groups[0].completions[0].entropy[0]: -1 is below 0"),
        (#"{"config": {"beta": 0, "loss_type": "dr_grpo", "max_completion_length": 2}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-1, -1, -1]}, {"logp": [-1]}]}]}"#,
         "group 0, completion 0 has 3 tokens, more than max_completion_length=2 that dr_grpo divides by"),
        (#"{"groups": [{"rewards": [1, 0], "rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#, #"the key "rewards" appears twice in one object"#),
        (#"{"config": {"beta": 0}, "config": {"beta": 1}, "groups": []}"#, #"the key "config" appears twice"#),
        (String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), "nested deeper than 64 levels"),
        (#"{"groups": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#, "nested deeper than 64 levels"),
        (#"{"config": {"beta": 0}, "groups": []}"#, "the batch has no groups"),
        (#"{"config": {"beta": 0}, "groups": [{"rewards": [1], "completions": [{"logp": [-1]}]}]}"#, "group 0 has 1 completion(s); GRPO needs G >= 2"),
        (#"{"config": {"beta": 0}, "groups": [{"rewards": [], "completions": []}]}"#, "group 0 has no completions"),
        (#"{"config": {"beta": 0}, "groups": [\#(ok), {"rewards": [1, 0, 1], "completions": [{"logp": [-1]}, {"logp": [-1]}, {"logp": [-1]}]}]}"#, "group 1"),
        (#"{"config": {"beta": 0.04}, "groups": [\#(ok)]}"#, "beta is 0.04 but no completion has ref_logp"),
        (#"{"config": {"beta": [1]}, "groups": []}"#, "config: beta must be"),
        (#"{"config": {"epsilon": 500}, "groups": []}"#, "config: epsilon must be"),
        (#"{"config": {"max_completion_length": 1e20}, "groups": []}"#, "config: max_completion_length must be a whole number"),
        (#"{"config": {"loss_type": "ppo"}, "groups": []}"#, "config: loss_type must be one of"),
        (#"{"config": {"gamma": 1}, "groups": []}"#, #"config: unknown option "gamma""#),
        (#"{"config": [], "groups": []}"#, "config: expected an object, found a list"),
        (#"[1, 2]"#, #"expected an object with "groups", found a list"#),
        (#"{"groups": [], "extra": 1}"#, #"unknown key "extra" at the top level"#),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1], "logq": [-1]}, {"logp": [-1]}]}]}"#, #"groups[0].completions[0]: unknown key "logq""#),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"old_logp": [-1]}, {"logp": [-1]}]}]}"#, #"groups[0].completions[0]: missing "logp""#),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-1]}]}"#, "the document ends inside a list"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-1]},]}]}"#, "expected a value"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]} x"#, "unexpected text after the end"),
        (#"{"groups": "\#u{1}"}"#, "a control character inside a string"),
        (#"{"gr\ud800oups": []}"#, "invalid \\u escape"),
        ("\u{0}", "expected a value"),
    ]
}

/// `value` with the item at `path` ("trainer.history.0.step") replaced by `new`; nil removes it.
func replacing(_ value: JSONValue, _ path: String, with new: JSONValue?) -> JSONValue {
    replacing(value, path.split(separator: ".").map(String.init)[...], with: new)
}

private func replacing(_ value: JSONValue, _ path: ArraySlice<String>, with new: JSONValue?) -> JSONValue {
    guard let head = path.first else { return new ?? .null }
    let rest = path.dropFirst()
    switch value {
    case .object(var object):
        object[head] = rest.isEmpty ? new : replacing(object[head] ?? .null, rest, with: new)
        return .object(object)
    case .array(var items):
        let k = Int(head)!
        if rest.isEmpty {
            if let new { items[k] = new } else { items.remove(at: k) }
        } else {
            items[k] = replacing(items[k], rest, with: new)
        }
        return .array(items)
    default:
        return value
    }
}

@Suite("Session files whose rollout the trainer cannot train on")
struct EmptyRolloutFileTests {
    @Test("a pending rollout with no prompts, or an empty completion, is refused at load (it once loaded and trapped at step)",
          arguments: ["prompts", "completion"])
    func refused(_ what: String) throws {
        let directory = TemporaryDirectory("grpo-rollout")
        defer { directory.remove() }
        let path = directory.file("s.json")
        let writer = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        #expect(!writer.execute("rollout").isError && !writer.execute("save \(path)").isError)
        guard case .object(var top) = try JSONParser.parse(Array(try String(contentsOfFile: path, encoding: .utf8).utf8)),
              case .object(var trainer) = top["trainer"], case .object(var rollout) = trainer["current_rollout"] else {
            Issue.record("no current_rollout in the saved session")
            return
        }
        if what == "prompts" {
            for key in ["prompts", "completions", "rewards", "oldLogp", "refLogp"] { rollout[key] = .array([]) }
        } else if case .array(var completions) = rollout["completions"], case .array(var old) = rollout["oldLogp"],
                  case .array(var ref) = rollout["refLogp"] {
            (completions[0], old[0], ref[0]) = (.array([]), .array([]), .array([]))
            (rollout["completions"], rollout["oldLogp"], rollout["refLogp"]) = (.array(completions), .array(old), .array(ref))
        }
        trainer["current_rollout"] = .object(rollout)
        top["trainer"] = .object(trainer)
        try JSONValue.object(top).rendered().write(toFile: path, atomically: true, encoding: .utf8)
        let reader = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let reply = reader.execute("load \(path)")
        #expect(reply.lines == ["error: \(path): trainer.current_rollout: the rollout does not fit task 'copy' with max_completion_length 8"],
                "\(reply.lines)")
        #expect(!reader.execute("step").isError)
    }
}
