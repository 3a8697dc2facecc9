/// A command the learner typed could not run: one line saying what was wrong and what is
/// accepted. The session is left as it was.
public struct CommandError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What Tab offers for a command's arguments.
public enum ArgumentCompletion: Sendable {
    case none
    /// Fixed words (e.g. `compare`'s `paths loss_type presets`).
    case words([String])
    /// `set`: option names, then that option's values.
    case options
    /// `config`: the session's option names (TRL's or verl's, as `library` says) and the kinds.
    case optionNames
    /// A file name (readline's own file completion).
    case files
    case commands
    case tasks
    case presets
    case lessons
    case terms
}

/// One entry of the command table. The same entry drives dispatch, `help`, Tab completion and
/// the test that runs every example.
public struct Command: Sendable {
    public let name: String
    public let aliases: [String]
    /// Argument syntax after the name, e.g. "[N]" or "key=value".
    public let syntax: String
    public let summary: String
    /// The equation term the command shows, when it shows one.
    public let term: String?
    /// A line that runs as typed (after `example` has made a batch), shown in `help`.
    public let example: String
    public let completion: ArgumentCompletion
    let run: @Sendable (Session, [String]) throws(CommandError) -> [String]

    init(_ name: String, aliases: [String] = [], syntax: String = "", summary: String, term: String? = nil,
         example: String? = nil, completion: ArgumentCompletion = .none,
         run: @escaping @Sendable (Session, [String]) throws(CommandError) -> [String]) {
        self.name = name
        self.aliases = aliases
        self.syntax = syntax
        self.summary = summary
        self.term = term
        self.example = example ?? name
        self.completion = completion
        self.run = run
    }

    /// "name syntax", as shown in help.
    public var usage: String { syntax.isEmpty ? name : "\(name) \(syntax)" }
}

/// Helpers for reading a command's words.
enum Args {
    /// Refuses any argument, for a command that takes none.
    static func none(_ args: [String], _ command: String) throws(CommandError) {
        if let extra = args.first {
            throw CommandError("\(command) takes no argument, got '\(Interpreter.shorten(extra))'; see 'help \(command)'")
        }
    }

    /// Refuses anything but `all`, for a command whose syntax is `[all]`.
    static func onlyAll(_ args: [String], _ command: String) throws(CommandError) {
        if let extra = args.first(where: { $0 != "all" }) {
            throw CommandError("\(command) takes nothing or 'all' (every row), not '\(Interpreter.shorten(extra))'")
        }
    }

    /// True when the learner asked for every row ("ratio all").
    static func wantsAll(_ args: [String]) -> Bool { args.contains("all") }

    /// A whole number in lo...hi, refusing anything else with the accepted range.
    static func integer(_ text: String, _ what: String, _ lo: Int, _ hi: Int) throws(CommandError) -> Int {
        guard let n = Int(text) else {
            throw CommandError("\(what) must be a whole number from \(lo) to \(hi), not '\(text)'")
        }
        guard n >= lo, n <= hi else { throw CommandError("\(what) must be from \(lo) to \(hi), not \(n)") }
        return n
    }
}
