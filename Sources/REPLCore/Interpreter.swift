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
        let words: [String]
        do { words = try Self.words(line) } catch { return Reply(lines: ["error: " + error.message], isError: true, quit: false) }
        guard let name = words.first else {
            // Enter on an empty line runs a running lesson's next step.
            guard session.lessonProgress != nil else { return Reply(lines: [], isError: false, quit: false) }
            return execute("next")
        }
        guard let command = CommandTable.command(named: name) else {
            let suggestion = Fmt.closest(name, in: CommandTable.names).map { "; did you mean '\($0)'?" } ?? ""
            return Reply(lines: ["error: unknown command '\(Self.shorten(name))'\(suggestion) (type 'help' for the list)"],
                         isError: true, quit: false)
        }
        if command.name == "quit" { return Reply(lines: [], isError: false, quit: true) }
        if command.name == "next" {
            do {
                return Reply(lines: try LessonCommands.next(session) { self.execute($0).lines }, isError: false, quit: false)
            } catch {
                return Reply(lines: ["error: " + error.message], isError: true, quit: false)
            }
        }
        do {
            return Reply(lines: try command.run(session, Array(words.dropFirst())), isError: false, quit: false)
        } catch {
            return Reply(lines: ["error: " + error.message], isError: true, quit: false)
        }
    }

    /// Long or control-laden input echoed back in an error stays one short, printable line.
    static func shorten(_ text: String) -> String {
        let printable = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
        return printable.count > 40 ? String(printable.prefix(40)) + "..." : printable
    }
}
