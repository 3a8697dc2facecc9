import Glibc
import REPLCore

/// grpo-repl: the GRPO loss, term by term, at a prompt. The command line (Arguments.swift):
///
///     grpo-repl                      interactive (GNU readline on a terminal; plain reads otherwise)
///     grpo-repl --script FILE        run the commands in FILE, echoing each as `grpo> command`;
///                                    exit status 1 if any of them failed
///     grpo-repl explain FILE ...     explain a batch file and exit (see `ExplainCommand`)
///     grpo-repl lesson N             run lesson N's steps without waiting, and exit
var script: String? = nil
var lessonToRun: String? = nil
switch GrpoRepl.parseOrExit() {
case let explain as Explain:
    let outcome = ExplainCommand.run(explain.arguments)
    // On a terminal its tables fit the window, as the REPL's do; piped, every column stays.
    if !outcome.output.isEmpty {
        let lines = outcome.output.split(separator: "\n", omittingEmptySubsequences: false).map { Fmt.printable(String($0)) }
        for line in isatty(STDOUT_FILENO) == 1 && !explain.arguments.json ? Fmt.fit(lines, width: terminalColumns() ?? 80) : lines {
            emit(line)
        }
    }
    for line in outcome.errors { emitError(Fmt.printable(line)) }
    exit(outcome.status)
case let lesson as Lesson:
    lessonToRun = lesson.number
case let repl as Interactive:
    script = repl.script
default:
    break
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
session.printNow = onTerminal ? { line in for part in Fmt.fit([Fmt.printable(line)], width: session.lineWidth) { emit(part) } } : nil
let interpreter = Interpreter(session: session)

/// Prints a reply: errors in red on a terminal, everything on standard output so that a piped
/// session reads as one transcript. On a terminal, prose lines wider than it wrap at spaces.
@MainActor func show(_ reply: Interpreter.Reply) {
    let lines = reply.lines.map(Fmt.printable)
    for line in isatty(STDOUT_FILENO) == 1 ? Fmt.fit(lines, width: session.lineWidth) : lines {
        emit(reply.isError ? session.style.red(line) : line)
    }
}

if let lessonToRun {
    Interrupt.install()
    // Every step runs at once: no Enter to press; on a terminal the output fits the window.
    session.lessonRunsAtOnce = true
    if isatty(STDOUT_FILENO) == 1 { session.lineWidth = min(terminalColumns() ?? Fmt.lineWidth, Fmt.lineWidth) }
    let start = interpreter.execute("lesson \(lessonToRun)")
    if start.isError {  // no such lesson
        for line in start.lines { emitError(line) }
        exit(2)
    }
    show(start)
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
    // Wrapped to the terminal at spaces (an 80-column window used to cut words in two).
    session.lineWidth = min(terminalColumns() ?? Fmt.lineWidth, Fmt.lineWidth)
    let banner = "grpo-repl: the GRPO loss, term by term. 'help' lists the commands, 'lesson 1' starts the course, "
        + "'example' loads a small batch, 'rollout' samples one from the tiny policy. Tab completes; Ctrl-D quits."
    for (k, line) in Fmt.wrap(banner, width: session.lineWidth).enumerated() {
        emit(k == 0 ? session.style.bold("grpo-repl") + line.dropFirst("grpo-repl".count) : line)
    }
}

let prompt = onTerminal ? session.style.bold("grpo> ") : "grpo> "
/// True once a command answered with an error: a `--script` then exits with status 1.
var anyFailed = false
loop: while true {
    switch reader.readLine(prompt: session.lessonProgress == nil ? prompt : "lesson> ") {
    case .line(let line):
        Interrupt.clear()
        // Read each time: the window may have been resized since the last command.
        if onTerminal { session.lineWidth = min(terminalColumns() ?? Fmt.lineWidth, Fmt.lineWidth) }
        let reply = interpreter.execute(line.trimmingWhitespace)
        if Interrupt.requested && onTerminal { emit("") }
        show(reply)
        anyFailed = anyFailed || reply.isError
        if reply.quit { break loop }
    case .interrupted:
        continue
    case .endOfInput:
        if onTerminal { emit("") }
        break loop
    }
}
exit(script != nil && anyFailed ? 1 : 0)
