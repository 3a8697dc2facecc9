import Foundation
import GRPO
import TinyPolicy

/// `save FILE` / `load FILE`: the whole session (loss options, training settings and seed, the
/// three policy snapshots, the optimizer's moments, the generator's state, the step counters and
/// history) as JSON, written atomically.
enum SessionFileCommands {
    /// The file's layout. `version` goes up when the layout changes; `load` refuses newer ones.
    struct SessionFile: Codable {
        static let currentVersion = 1
        /// The most step summaries a session file keeps: about 720 bytes each as written, 1,500
        /// with every field at its widest, so a file stays under 3/4 of the 64 MB `load` reads
        /// (tested with the widest numbers).
        static let historyLimit = 30_000
        var format = "grpo-swift session"
        var version = currentVersion
        var trainer: Trainer
        var display: Display

        struct Display: Codable {
            var rows: Int
            var showPath: String
            enum CodingKeys: String, CodingKey {
                case rows
                case showPath = "show_path"
            }
        }
    }

    static func save(_ session: Session, to path: String, historyLimit: Int = SessionFile.historyLimit) throws(CommandError) -> [String] {
        var trainer = session.trainer
        let dropped = trainer.dropHistory(keepingLast: historyLimit)
        let file = SessionFile(trainer: trainer, display: .init(rows: session.rowLimit, showPath: session.displayPath.rawValue))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(file) } catch { throw CommandError("could not encode the session: \(error)") }
        do throws(InputError) { try AtomicFile.write(String(decoding: data, as: UTF8.self) + "\n", to: path) } catch {
            throw CommandError(error.message)
        }
        let wrote = "wrote \(path): task \(trainer.settings.task), seed \(trainer.settings.seed), \(trainer.stepCount) step(s)"
        guard dropped > 0 else { return [wrote] }
        return [wrote, "its history keeps the last \(historyLimit) of the \(dropped + historyLimit) step summaries (a session "
                + "file holds at most \(historyLimit), so that 'load' can read it); theta, the optimizer and the generator are saved whole"]
    }

    static func load(_ session: Session, from path: String) throws(CommandError) -> [String] {
        let bytes: [UInt8]
        do throws(InputError) { bytes = try InputFile.read(path) } catch { throw CommandError(error.message) }
        // Our own parser first: exact line and column, duplicated keys refused.
        let json: JSONValue
        do throws(JSONError) { json = try JSONParser.parse(bytes) } catch { throw CommandError("\(path): not valid JSON: \(error)") }
        guard case .object(let top) = json, top["format"] == .string("grpo-swift session") else {
            throw CommandError("\(path): not a grpo-repl session file (no \"format\": \"grpo-swift session\"); batch files load with 'explain'")
        }
        guard let versionValue = top["version"] else { throw CommandError("\(path): the session file has no version") }
        guard case .number(let version) = versionValue else {
            throw CommandError("\(path): version: expected a number, found \(versionValue.kind)")
        }
        guard version == version.rounded(), version >= 1 else {
            throw CommandError("\(path): version: must be a whole number from 1, not \(JSONValue.format(version))")
        }
        guard version <= Double(SessionFile.currentVersion) else {
            throw CommandError("\(path): written by a newer grpo-repl (session version \(JSONValue.format(version))); this one reads version \(SessionFile.currentVersion)")
        }
        if let problem = wholeNumberProblem(json, path: "", shown: "") { throw CommandError("\(path): \(problem)") }
        let file: SessionFile
        let data = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Data(bytes.dropFirst(3)) : Data(bytes)
        do { file = try JSONDecoder().decode(SessionFile.self, from: data) } catch {
            throw CommandError("\(path): \(describe(error))")
        }
        guard file.display.rows >= 1, file.display.rows <= 100_000, let showPath = Session.DisplayPath(rawValue: file.display.showPath) else {
            throw CommandError("\(path): display: rows must be 1...100000 and show_path naive or vectorized")
        }
        if let k = file.trainer.optimizer.secondMoment.firstIndex(where: { $0 < 0 }) {
            throw CommandError("\(path): trainer.optimizer.secondMoment[\(k)]: \(Fmt.num(file.trainer.optimizer.secondMoment[k])) is below 0, and Adam's second moment is a mean of squares")
        }
        // Everything checked: now change the session (and put it back if the options the file
        // brings cannot take its own sampler's batches).
        let saved = session.workspace
        session.trainer = file.trainer
        session.useTrainersMaxCompletionLength()
        session.rowLimit = file.display.rows
        session.displayPath = showPath
        session.clearBatchIfFromTrainer()
        if let problem = ConfigCommands.samplerCorrectionProblem(session) {
            session.workspace = saved
            throw CommandError("\(path): its options do not fit its sampler: \(problem)")
        }
        if file.trainer.currentRollout != nil { session.showTrainerBatch(origin: "rollout \(file.trainer.iterationCount) (loaded)") }
        let kept = file.trainer.history.first.map { $0.step > 0 ? " (its history from step \($0.step + 1): the file kept the last \(file.trainer.history.count))" : "" } ?? ""
        return ["loaded \(path): task \(file.trainer.settings.task), seed \(file.trainer.settings.seed), \(file.trainer.stepCount) step(s)\(kept)"]
            + session.backToTRL(because: "a saved session holds TRL's options")
    }

    /// The whole-number fields of a session file and their ranges. They are checked on our own
    /// parse, before Foundation's decoder (whose error for -1 or 1.5 in a UInt64 names no field)
    /// and before the trainer counts on them (a step counter at Int.max overflows at the next step).
    static let wholeNumbers: [String: (range: ClosedRange<Double>, text: String)] = {
        let counter = (range: 0...Double(1 << 40), text: "0 to 2^40")
        let size = (range: 0...Double(1 << 20), text: "0 to 2^20")
        // 2^64 - 1 is 2^64 as a double: the decoder itself refuses the few values in between.
        let uint64 = (range: 0...18_446_744_073_709_551_615.0, text: "0 to 2^64 - 1")
        var table: [String: (range: ClosedRange<Double>, text: String)] = [
            "trainer.settings.seed": uint64, "trainer.rng.state": uint64,
            "trainer.iteration_count": counter, "trainer.inner_steps_done": counter, "trainer.step_count": counter,
            "trainer.optimizer.stepCount": counter, "trainer.current_rollout.iteration": counter,
            "trainer.history[].step": counter, "trainer.history[].iteration": counter, "trainer.history[].innerStep": counter,
            "trainer.current_rollout.groupSize": size, "trainer.current_rollout.prompts[]": size,
            "trainer.current_rollout.completions[][]": size, "display.rows": size,
        ]
        for key in ["num_generations", "prompts_per_iteration", "num_iterations", "max_completion_length"] {
            table["trainer.settings." + key] = size
        }
        for policy in ["policy", "old_policy", "reference_policy"] {
            for key in ["vocabularySize", "promptCount", "maxLength"] { table["trainer.\(policy).\(key)"] = size }
        }
        return table
    }()

    /// The first whole-number field out of its range, as "field: what is accepted", or nil.
    /// `path` names list items "[]" (the table's form), `shown` with their index.
    static func wholeNumberProblem(_ value: JSONValue, path: String, shown: String) -> String? {
        switch value {
        case .object(let object):
            for (key, item) in object.pairs {
                let p = path.isEmpty ? key : path + "." + key
                if let problem = wholeNumberProblem(item, path: p, shown: shown.isEmpty ? key : shown + "." + key) { return problem }
            }
        case .array(let items):
            for (k, item) in items.enumerated() {
                if let problem = wholeNumberProblem(item, path: path + "[]", shown: shown + "[\(k)]") { return problem }
            }
        case .number(let x):
            if let field = wholeNumbers[path], !(x == x.rounded() && field.range.contains(x)) {
                return "\(shown): must be a whole number from \(field.text), not \(JSONValue.format(x))"
            }
        default:
            break
        }
        return nil
    }

    /// A decoding error as one line: the field path and what was wrong there.
    static func describe(_ error: Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): missing"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            // Our parser has read the file, so Foundation's "not valid JSON" means a number that
            // does not fit its field's type; Foundation does not say which field.
            return "a number does not fit its field (a fraction, a negative or a too large number where a whole number belongs)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let at = path(context.codingPath)
            return (at.isEmpty ? "" : at + ": ") + context.debugDescription
        @unknown default: return "\(error)"
        }
    }

    static let all: [Command] = [
        Command("save", syntax: "FILE", summary: "save the whole session (options, policy, optimizer, seed, the last 30000 steps of history) as JSON",
                example: "save /tmp/session.json", completion: .files) { session, args throws(CommandError) in
            guard args.count == 1 else { throw CommandError("save takes one FILE, e.g. 'save session.json'") }
            return try save(session, to: args[0])
        },
        Command("load", syntax: "FILE", summary: "load a saved session; on any error the current one stays as it was",
                example: "load /tmp/session.json", completion: .files) { session, args throws(CommandError) in
            guard args.count == 1 else { throw CommandError("load takes one FILE, e.g. 'load session.json'") }
            return try load(session, from: args[0])
        },
    ]
}
