import Glibc
import REPLCore

/// grpo-repl: the GRPO loss, term by term, at a prompt.
///
///     grpo-repl                      interactive (GNU readline on a terminal; plain reads otherwise)
///     grpo-repl --script FILE        run the commands in FILE, echoing each as `grpo> command`
///     grpo-repl explain FILE ...     explain a batch file and exit (see `ExplainCommand`)
///     grpo-repl lesson N             run lesson N's steps without waiting, and exit
let usage = """
    usage: grpo-repl [--script FILE]      the REPL; with a FILE (or 'grpo-repl < FILE') it runs its commands, echoed
           grpo-repl explain FILE [--json] [--all] [--preset NAME] [--set key=value ...]
           grpo-repl lesson N             run lesson N's steps at once
    """

var arguments = Array(CommandLine.arguments.dropFirst())

if arguments.first == "explain" {
    let outcome = ExplainCommand.run(Array(arguments.dropFirst()))
    if !outcome.output.isEmpty { emit(outcome.output) }
    for line in outcome.errors { emitError(line) }
    exit(outcome.status)
}

var script: String? = nil
var lessonToRun: String? = nil
while let arg = arguments.first {
    arguments.removeFirst()
    switch arg {
    case "--script":
        guard let path = arguments.first else { emitError("error: --script needs a FILE\n" + usage); exit(2) }
        script = path
        arguments.removeFirst()
    case "lesson":
        guard let n = arguments.first else { emitError("error: lesson needs a number\n" + usage); exit(2) }
        lessonToRun = n
        arguments.removeFirst()
    case "-h", "--help":
        emit(usage)
        exit(0)
    default:
        emitError("error: unknown argument '\(arg)'; 'grpo-repl --help' shows the usage")
        exit(2)
    }
}

let onTerminal = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 && script == nil
var environment: [String: String] = [:]
for key in ["NO_COLOR", "TERM"] {
    if let value = getenv(key) { environment[key] = String(cString: value) }
}
let session = Session()
session.style = Style.detect(isTerminal: onTerminal, environment: environment)
session.shouldStop = { Interrupt.requested }
session.progress = onTerminal ? { Output.write("\r" + $0 + "\u{1B}[K", to: STDOUT_FILENO) } : nil
let interpreter = Interpreter(session: session)

/// Prints a reply: errors in red on a terminal, everything on standard output so that a piped
/// session reads as one transcript.
@MainActor func show(_ reply: Interpreter.Reply) {
    for line in reply.lines {
        emit(reply.isError ? session.style.red(line) : line)
    }
}

if let lessonToRun {
    Interrupt.install()
    let start = interpreter.execute("lesson \(lessonToRun)")
    show(start)
    if start.isError { exit(2) }  // no such lesson
    while session.lessonProgress != nil && !Interrupt.requested {
        show(interpreter.execute("next"))
    }
    exit(0)
}

let reader: any LineReader
do {
    reader = try makeLineReader(
        script: script,
        completions: { line, start, _ in Completer.candidates(line: line, wordStart: start, session: session) },
        wantsFiles: { line, start in Completer.wantsFiles(line: line, wordStart: start) })
} catch {
    emitError("error: \(error)")
    exit(2)
}

if onTerminal {
    emit(session.style.bold("grpo-repl") + ": the GRPO loss, term by term. 'help' lists the commands, 'lesson 1' starts the course,")
    emit("'example' loads a small batch, 'rollout' samples one from the tiny policy. Tab completes; Ctrl-D quits.")
}

let prompt = onTerminal ? session.style.bold("grpo> ") : "grpo> "
loop: while true {
    switch reader.readLine(prompt: session.lessonProgress == nil ? prompt : "lesson> ") {
    case .line(let line):
        Interrupt.clear()
        let reply = interpreter.execute(line.trimmingWhitespace)
        if Interrupt.requested && onTerminal { emit("") }
        show(reply)
        if reply.quit { break loop }
    case .interrupted:
        continue
    case .endOfInput:
        if onTerminal { emit("") }
        break loop
    }
}
exit(0)
