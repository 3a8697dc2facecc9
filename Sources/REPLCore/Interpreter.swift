/// Runs one typed line against a session: splits it into words, finds the command, and turns
/// every failure into a one-line error. Nothing typed here can end the process except `quit`.
public final class Interpreter {
    public let session: Session

    /// The output of one line.
    public struct Reply: Sendable, Equatable {
        public var lines: [String]
        public var isError: Bool
        public var quit: Bool
    }

    public init(session: Session = Session()) {
        self.session = session
    }

    /// Words separated by spaces; "double quotes" keep spaces (for file names); `#` starts a comment.
    public static func words(_ line: String) throws(CommandError) -> [String] {
        var words: [String] = []
        var current = ""
        var inQuotes = false
        var hasWord = false
        for ch in line {
            if inQuotes {
                if ch == "\"" { inQuotes = false } else { current.append(ch) }
            } else if ch == "\"" {
                inQuotes = true
                hasWord = true
            } else if ch == "#" && !hasWord && current.isEmpty {
                break
            } else if ch.isWhitespace {
                if hasWord { words.append(current) }
                current = ""
                hasWord = false
            } else {
                current.append(ch)
                hasWord = true
            }
        }
        if inQuotes { throw CommandError("a quote is not closed") }
        if hasWord { words.append(current) }
        return words
    }

    public func execute(_ line: String) -> Reply {
        guard session.lessonProgress != nil else { return run(line) }
        // In a lesson, a command of the learner's own: run it, then say which step is next and
        // whether it changed what the lesson's numbers assume.
        let before = LessonCommands.State(session)
        let reply = run(line)
        let words = (try? Self.words(line)) ?? []
        guard !reply.isError, let name = words.first.map({ CommandTable.command(named: $0)?.name ?? $0 }),
              !LessonCommands.stepsItself(name) else { return reply }
        return Reply(lines: reply.lines + LessonCommands.afterOwnCommand(session, before: before), isError: false, quit: reply.quit)
    }

    /// Runs one line (a lesson's own steps come through here, without `execute`'s notes).
    func run(_ line: String) -> Reply {
        let words: [String]
        do { words = try Self.words(line) } catch { return Self.error(error.message) }
        guard let name = words.first else {
            // Enter on an empty line runs a running lesson's next step.
            guard session.lessonProgress != nil else { return Reply(lines: [], isError: false, quit: false) }
            return execute("next")
        }
        guard let command = CommandTable.command(named: name) else {
            let suggestion = Fmt.closest(name, in: CommandTable.names).map { "; did you mean '\($0)'?" } ?? ""
            return Self.error("unknown command '\(Self.shorten(name))'\(suggestion) (type 'help' for the list)")
        }
        if command.name == "quit" || command.name == "next", words.count > 1 {
            return Self.error("\(name) takes no argument, not '\(Self.shorten(words.dropFirst().joined(separator: " ")))'")
        }
        if command.name == "quit" { return Reply(lines: [], isError: false, quit: true) }
        if command.name == "next" {
            do {
                return Reply(lines: try LessonCommands.next(session) { self.run($0).lines }, isError: false, quit: false)
            } catch {
                return Self.error(error.message)
            }
        }
        do {
            return Reply(lines: try command.run(session, Array(words.dropFirst())), isError: false, quit: false)
        } catch {
            return Self.error(error.message)
        }
    }

    /// An error reply: one printable line, however much of the input its message echoes back
    /// (a quoted newline, an escape sequence, a pasted 100k-character word).
    static func error(_ message: String) -> Reply {
        Reply(lines: ["error: " + oneLine(message)], isError: true, quit: false)
    }

    /// Control characters and line separators become '?'; beyond `limit` characters the middle
    /// is cut, keeping the start (what was wrong) and the end (what is accepted).
    static func oneLine(_ text: String, limit: Int = 1000) -> String {
        var out = String(text.unicodeScalars.map { isControl($0) ? "?" : Character($0) })
        if out.count > limit { out = String(out.prefix(limit / 2)) + " ... " + String(out.suffix(limit / 2)) }
        return out
    }

    static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
    }

    /// Long or control-laden input echoed back in an error stays one short, printable line.
    static func shorten(_ text: String) -> String {
        let printable = String(text.unicodeScalars.map { isControl($0) ? "?" : Character($0) })
        return printable.count > 40 ? String(printable.prefix(40)) + "..." : printable
    }
}
