/// The one table of commands: dispatch, `help`, Tab completion and the tests all read it.
public enum CommandTable {
    /// Sections in the order `help` lists them.
    public static let sections: [(title: String, commands: [Command])] = [
        ("the tiny policy: sample, update, train", TrainingCommands.all),
        ("a batch to look at", BatchCommands.all),
        ("the loss, term by term (add 'all' to see every row)", TermCommands.all + ObjectiveCommands.all),
        ("options", ConfigCommands.all),
        ("side by side and the code", CompareCommands.all + SourceCommand.all),
        ("experiments", ExplorationCommands.all + ExperimentCommands.all + SeedsCommand.all + SequenceKLCommand.all),
        ("lessons", LessonCommands.all + [LessonCommands.nextCommand]),
        ("this REPL", SessionFileCommands.all + HelpCommands.all),
    ]

    public static var all: [Command] { sections.flatMap(\.commands) }

    /// The command called `name` (or one of its aliases).
    public static func command(named name: String) -> Command? {
        all.first { $0.name == name || $0.aliases.contains(name) }
    }

    /// Every name and alias, for completion and suggestions.
    public static var names: [String] { all.flatMap { [$0.name] + $0.aliases } }
}

enum HelpCommands {
    static func help(_ name: String?, width: Int) throws(CommandError) -> [String] {
        guard let name else {
            var lines = ["commands (type 'help COMMAND' for its syntax and an example):"]
            for section in CommandTable.sections where !section.commands.isEmpty {
                lines.append("")
                lines.append(section.title + ":")
                let usageWidth = section.commands.map(\.usage.count).max() ?? 0
                for c in section.commands { lines += hanging("  " + c.usage.padding(toLength: usageWidth) + "  ", c.summary, width: width) }
            }
            return lines
        }
        guard let c = CommandTable.command(named: name) else {
            let suggestion = Fmt.closest(name, in: CommandTable.names).map { "; did you mean '\($0)'?" } ?? ""
            throw CommandError("no command '\(Interpreter.shorten(name))'\(suggestion) (type 'help' for the list)")
        }
        var lines = ["\(c.usage)"] + hanging("  ", c.summary, width: width)
        if let term = c.term { lines.append("  shows: \(term)") }
        if !c.aliases.isEmpty { lines.append("  also: \(c.aliases.joined(separator: ", "))") }
        lines.append("  example: \(c.example)")
        return lines
    }

    /// `prefix` then `text` wrapped to `width` columns (the text keeps at least 30 columns), its
    /// further lines indented under the text.
    static func hanging(_ prefix: String, _ text: String, width: Int) -> [String] {
        let body = Fmt.wrap(text, width: max(30, width - prefix.count))
        return [prefix + body[0]] + body.dropFirst().map { String(repeating: " ", count: prefix.count) + $0 }
    }

    static let all: [Command] = [
        Command("help", syntax: "[COMMAND]", summary: "list the commands, or show one with its syntax and an example",
                example: "help clip", completion: .commands) { session, args throws(CommandError) in
            guard args.count <= 1 else { throw CommandError("help takes at most one command name") }
            return try help(args.first, width: session.lineWidth)
        },
        Command("quit", aliases: ["exit"], summary: "leave (Ctrl-D does the same)", example: "quit") { _, _ throws(CommandError) in [] },
    ]
}
