import ArgumentParser
import Glibc
import REPLCore

/// grpo-repl's command line: the REPL (the default), `explain FILE ...` and `lesson N`, each with
/// `--help`, and shell completion scripts (`--generate-completion-script bash|zsh|fish`). The
/// types only describe the command line; main.swift does what the parsed one asks.
struct GrpoRepl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo-repl",
        abstract: "The GRPO loss, term by term, at a prompt.",
        usage: """
            grpo-repl [--script <file>]
            grpo-repl explain <file> [--json] [--all] [--check] [--naive]
                              [--preset <name>] [--set <key=value> ...]
                              [--logged <line>]
            grpo-repl lesson <n>
            grpo-repl --generate-completion-script bash|zsh|fish
            """,
        discussion: """
            With no subcommand, the REPL: GNU readline on a terminal ('help' lists its commands, \
            'lesson 1' starts the course); 'grpo-repl < FILE' runs FILE's commands, echoed.
            """,
        subcommands: [Interactive.self, Explain.self, Lesson.self],
        defaultSubcommand: Interactive.self)

    /// Parses the command line; on a mistake prints one line to stderr and exits 2, on --help or
    /// a completion script prints it and exits 0.
    static func parseOrExit() -> any ParsableCommand {
        do {
            let command = try parseAsRoot()
            guard command is Interactive || command is Explain || command is Lesson else {
                // ArgumentParser's own: the help of a command, asked for as `--help` or `help`.
                var own = command
                do { try own.run() } catch { exit(withError: error) }
                Glibc.exit(0)
            }
            return command
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // a completion script
            let first = CommandLine.arguments.dropFirst().first ?? ""
            let help = ["explain", "lesson", "repl"].contains(first) ? "'grpo-repl \(first) --help'" : "'grpo-repl --help'"
            emitError("error: " + ArgumentMessage.oneLine(message(for: error), then: "\(help) shows the usage"))
            Glibc.exit(2)
        }
    }
}

/// The REPL itself.
struct Interactive: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl", abstract: "The REPL (what 'grpo-repl' alone runs).")

    @Option(help: ArgumentHelp("Run FILE's commands, echoing each as 'grpo> command'; exit status 1 if any of them failed.",
                               valueName: "file"),
            completion: .file())
    var script: String?
}

/// `grpo-repl explain FILE ...`: a batch file's every quantity, then exit.
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a batch file: every quantity of both loss paths, and the logged numbers beside ours.",
        usage: """
            grpo-repl explain <file> [--json] [--all] [--check] [--naive]
                              [--preset <name>] [--set <key=value> ...]
                              [--logged <line>]
            """,
        discussion: "Exit status: 0; 1 when --check finds a difference; 2 for input it cannot use (one line on stderr).")

    @OptionGroup var arguments: ExplainArguments
}

/// `grpo-repl lesson N`: a lesson's steps at once, then exit.
struct Lesson: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run lesson N's steps at once, from a fresh session.")

    @Argument(help: ArgumentHelp("The lesson's number ('lessons' in the REPL lists them).", valueName: "n"),
              completion: .list(LessonCatalog.numbers(root: ProjectFiles.root)))
    var number: String
}
