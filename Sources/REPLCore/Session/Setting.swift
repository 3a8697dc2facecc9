import GRPO
import TinyPolicy

/// A `set`-table entry: the loss options (`GRPOConfig.options`), the training options, and the
/// REPL's own display options, all read and written as text with one validation path.
public struct Setting: Sendable {
    public enum Scope: String, Sendable, CaseIterable {
        case loss, training, display
    }

    public let key: String
    public let scope: Scope
    public let summary: String
    public let accepted: String
    public let suggestions: [String]
    /// True when a new value starts a new run (`task`, `max_completion_length`, `seed`).
    public var startsNewRun = false
    let get: @Sendable (Session) -> String
    let set: @Sendable (Session, String) throws(CommandError) -> Void
    /// What `set` says after a change besides "key: before -> after" (`library`'s switch).
    var notes: (@Sendable (Session) -> [String])? = nil
}

extension Session {
    /// Every setting `set` knows, in the order `show config` lists them.
    public var settings: [Setting] { (library == .verl ? Self.verlSettings : Self.lossSettings) + extraSettings }

    /// The loss options; `max_completion_length` is listed once, with the training options,
    /// since it is also the longest completion the tiny policy writes.
    static let lossSettings: [Setting] = GRPOConfig.options.filter { $0.key != "max_completion_length" }.map { option in
        Setting(key: option.key, scope: .loss, summary: option.summary, accepted: option.accepted,
                suggestions: option.suggestions, get: { option.get($0.config) },
                set: { session, text throws(CommandError) in
                    var config = session.config
                    do throws(ConfigError) { try option.set(text, in: &config) } catch { throw CommandError(error.message) }
                    session.config = config
                })
    }

    /// The tiny policy's training options; changing `task`, `max_completion_length` or `seed`
    /// starts a new run. A value equal to the current one changes nothing (the run stays).
    static let trainingSettings: [Setting] = TrainingSettings.options.map { option in
        Setting(key: option.key, scope: .training,
                summary: option.summary + (option.startsNewRun ? " (starts a new run)" : ""),
                accepted: option.accepted, suggestions: option.suggestions, startsNewRun: option.startsNewRun,
                // max_completion_length is also a loss option: show the one the batch on screen uses.
                get: { option.key == "max_completion_length" ? "\($0.config.maxCompletionLength)" : option.get($0.trainer.settings) },
                set: { session, text throws(CommandError) in
                    var trainer = session.trainer
                    do throws(ConfigError) { try trainer.set(option.key, to: text) } catch { throw CommandError(error.message) }
                    if trainer.settings != session.trainer.settings {
                        session.trainer = trainer
                        if option.startsNewRun { session.clearBatchIfFromTrainer() }
                    }
                    if option.key == "max_completion_length" { session.useTrainersMaxCompletionLength() }
                })
    }

    static let displaySettings: [Setting] = [
        Setting(key: "library", scope: .display, summary: "whose option and metric names the session speaks (verl: its actor's loss)",
                accepted: "one of trl, verl", suggestions: Library.allCases.map(\.rawValue),
                get: { $0.library.rawValue },
                set: { session, text throws(CommandError) in
                    guard let library = Library(rawValue: text) else {
                        throw CommandError("library must be one of trl, verl, not '\(Interpreter.shorten(text))'")
                    }
                    session.librarySwitchNotes = try session.switchLibrary(to: library)
                },
                notes: { session in session.librarySwitchNotes }),
        Setting(key: "rows", scope: .display, summary: "rows a table shows before it is cut (type 'CMD all' for every row)",
                accepted: "a whole number in [1, 100000]", suggestions: ["20", "40", "100"],
                get: { "\($0.rowLimit)" },
                set: { session, text throws(CommandError) in
                    // Worded like the loss and training options beside it in 'config'.
                    guard let n = Int(text), (1...100_000).contains(n) else {
                        throw CommandError("rows must be a whole number in [1, 100000], not '\(Interpreter.shorten(text))'")
                    }
                    session.rowLimit = n
                }),
        Setting(key: "show_path", scope: .display, summary: "which path's numbers the term commands print",
                accepted: "one of naive, vectorized", suggestions: Session.DisplayPath.allCases.map(\.rawValue),
                get: { $0.displayPath.rawValue },
                set: { session, text throws(CommandError) in
                    guard let path = Session.DisplayPath(rawValue: text) else {
                        throw CommandError("show_path must be one of naive, vectorized, not '\(Interpreter.shorten(text))'")
                    }
                    session.displayPath = path
                }),
    ]

    public func setting(named key: String) -> Setting? {
        let key = GRPOConfig.currentName(of: key)
        return settings.first { $0.key == key }
    }
}

extension Session {
    var extraSettings: [Setting] { Self.trainingSettings + Self.displaySettings }

    /// Names of the tiny policy's tasks, for completion.
    var taskNames: [String] { TaskCatalog.names }
}
