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

    static func save(_ session: Session, to path: String) throws(CommandError) -> [String] {
        var trainer = session.trainer
        trainer.lossConfig = session.config
        let file = SessionFile(trainer: trainer, display: .init(rows: session.rowLimit, showPath: session.displayPath.rawValue))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(file) } catch { throw CommandError("could not encode the session: \(error)") }
        do throws(InputError) { try AtomicFile.write(String(decoding: data, as: UTF8.self) + "\n", to: path) } catch {
            throw CommandError(error.message)
        }
        return ["saved to \(path): task \(trainer.settings.task), seed \(trainer.settings.seed), \(trainer.stepCount) step(s)"]
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
        guard case .number(let version)? = top["version"] else { throw CommandError("\(path): the session file has no version") }
        guard Int(version) <= SessionFile.currentVersion else {
            throw CommandError("\(path): written by a newer grpo-repl (session version \(JSONValue.format(version))); this one reads version \(SessionFile.currentVersion)")
        }
        let file: SessionFile
        do { file = try JSONDecoder().decode(SessionFile.self, from: Data(bytes)) } catch {
            throw CommandError("\(path): \(describe(error))")
        }
        guard file.display.rows >= 1, file.display.rows <= 100_000, let showPath = Session.DisplayPath(rawValue: file.display.showPath) else {
            throw CommandError("\(path): display: rows must be 1...100000 and show_path naive or vectorized")
        }
        // Everything checked: now change the session.
        session.trainer = file.trainer
        session.config = file.trainer.lossConfig
        session.rowLimit = file.display.rows
        session.displayPath = showPath
        session.clearBatchIfFromTrainer()
        if file.trainer.currentRollout != nil { session.showTrainerBatch(origin: "rollout \(file.trainer.iterationCount) (loaded)") }
        return ["loaded \(path): task \(file.trainer.settings.task), seed \(file.trainer.settings.seed), \(file.trainer.stepCount) step(s)"]
    }

    /// A decoding error as one line: the field path and what was wrong there.
    static func describe(_ error: Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let at = path(context.codingPath)
            return (at.isEmpty ? "" : at + ": ") + context.debugDescription
        @unknown default: return "\(error)"
        }
    }

    static let all: [Command] = [
        Command("save", syntax: "FILE", summary: "save the whole session (options, policy, optimizer, seed, history) as JSON",
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
