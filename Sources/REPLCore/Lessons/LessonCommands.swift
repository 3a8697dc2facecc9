/// `lessons`, `lesson N`, `next`: step through a lesson's REPL blocks, one command per Enter.
/// A lesson runs in a fresh session (the numbers it quotes are a fresh session's); the learner's
/// own session is set aside and comes back when the lesson ends or is stopped.
enum LessonCommands {
    /// Starts `lesson` in a fresh session. The learner's session is set aside, unless another
    /// lesson was running: then the session set aside for it stays the one to come back.
    static func start(_ lesson: Lesson, in session: Session) {
        let yours = session.lessonProgress?.setAside ?? session.workspace
        session.workspace = session.freshWorkspace
        session.lessonProgress = Session.LessonProgress(lesson: lesson, next: 0, setAside: yours)
    }

    /// Ends the running lesson and puts the learner's session back; returns the line saying so.
    static func finish(_ session: Session) -> String {
        if let progress = session.lessonProgress { session.workspace = progress.setAside }
        session.lessonProgress = nil
        let t = session.trainer
        let batch = session.batch == nil ? "no batch" : "batch: \(session.batchOrigin)"
        return "back to your session: task \(t.settings.task), seed \(t.settings.seed), \(t.stepCount) step(s), \(batch)"
    }

    /// What a lesson's numbers depend on: every option's value and how far the run has gone.
    struct State: Equatable {
        var options: [String: String]
        var steps: Int
        var iterations: Int
        var batchOrigin: String

        init(_ session: Session) {
            options = Dictionary(session.settings.map { ($0.key, $0.get(session)) }, uniquingKeysWith: { a, _ in a })
            steps = session.trainer.stepCount
            iterations = session.trainer.iterationCount
            batchOrigin = session.batchOrigin
        }
    }

    /// Commands (by their canonical names) that move through lessons themselves, after which no
    /// reminder is due.
    static func stepsItself(_ name: String) -> Bool {
        ["next", "lesson", "lessons", "quit"].contains(name)
    }

    /// After a command of the learner's own in a lesson: what changed that the lesson's numbers
    /// assume (its options, its run, its batch), and which step is next.
    static func afterOwnCommand(_ session: Session, before: State) -> [String] {
        guard let progress = session.lessonProgress else { return [] }
        let after = State(session)
        var lines: [String] = []
        let changed = before.options.keys.sorted().filter { before.options[$0] != after.options[$0] }
        let moved = before.steps != after.steps || before.iterations != after.iterations || before.batchOrigin != after.batchOrigin
        var what: [String] = []
        if !changed.isEmpty {
            what.append("you changed \(changed.map { "\($0) (\(before.options[$0] ?? "") -> \(after.options[$0] ?? ""))" }.joined(separator: ", "))")
        }
        if moved { what.append(after.batchOrigin != before.batchOrigin ? "the batch is now \(after.batchOrigin)" : "the lesson's run moved on") }
        if !what.isEmpty {
            lines += Fmt.wrap(what.joined(separator: "; ") + ": the lesson's numbers from here on assume its own "
                              + (changed.isEmpty ? "steps" : "options and steps") + "; 'lesson \(progress.lesson.number)' starts it again",
                              width: session.lineWidth, indent: "  ")
        }
        let lesson = progress.lesson
        if progress.next < lesson.steps.count {
            lines.append("(lesson \(lesson.number), step \(progress.next + 1)/\(lesson.steps.count) is next: "
                         + "\(lesson.steps[progress.next].command); Enter runs it)")
        }
        return lines
    }

    /// The prompt for the step the learner is on, or the end of the lesson.
    static func announce(_ session: Session) -> [String] {
        guard let progress = session.lessonProgress else { return [] }
        let lesson = progress.lesson
        guard progress.next < lesson.steps.count else {
            return ["", "end of lesson \(lesson.number). 'lessons' lists the others; lessons/\(lesson.file) has the full text.",
                    finish(session)]
        }
        let step = lesson.steps[progress.next]
        var lines: [String] = []
        if !step.context.isEmpty {
            // Marks are taken off the paragraph as a whole: a code span or bold text may cross a line.
            let plain = MarkdownText.plain(step.context.joined(separator: "\n")).split(separator: "\n", omittingEmptySubsequences: false)
            lines += [""] + reflow(plain.map(String.init), width: session.lineWidth - 2).map { "  " + $0 }
        }
        lines.append("step \(progress.next + 1)/\(lesson.steps.count): \(step.command)" + (session.lessonRunsAtOnce ? "" : "   (press Enter to run it)"))
        return lines
    }

    /// A lesson's prose lines, rewrapped to `width` when one is wider (a narrow terminal): each
    /// run of prose, or list item, becomes one paragraph again; table rows stay as they are.
    static func reflow(_ lines: [String], width: Int) -> [String] {
        guard lines.contains(where: { $0.count > width }) else { return lines }
        var out: [String] = [], run: [String] = []
        func flush() {
            if !run.isEmpty { out += Fmt.wrap(run.joined(separator: " "), width: width, indent: isListItem(run[0]) ? "  " : "") }
            run = []
        }
        for line in lines {
            let text = line.trimmingWhitespace
            if text.hasPrefix("|") {
                flush()
                out.append(line)
            } else {
                if isListItem(text) { flush() }
                run.append(text)
            }
        }
        flush()
        return out
    }

    /// "- item" or "1. item": a line that starts a paragraph of its own.
    static func isListItem(_ text: String) -> Bool {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        return text.hasPrefix("- ") || (!digits.isEmpty && text.dropFirst(digits.count).hasPrefix(". "))
    }

    /// Runs the lesson's next command through `run` and announces the one after.
    static func next(_ session: Session, run: (String) -> [String]) throws(CommandError) -> [String] {
        guard let progress = session.lessonProgress else {
            throw CommandError("no lesson is running; 'lessons' lists them, 'lesson N' starts one")
        }
        let command = progress.lesson.steps[progress.next].command
        session.lessonProgress?.next += 1
        let echo = "grpo> \(command)"
        guard let printNow = session.printNow else { return [echo] + run(command) + announce(session) }
        printNow(echo)
        return run(command) + announce(session)
    }

    static func list(_ session: Session) -> [String] {
        let lessons = LessonCatalog.all(root: session.projectRoot)
        guard !lessons.isEmpty else { return ["no lessons found under \(session.projectRoot)/lessons"] }
        let numberWidth = lessons.map(\.number.count).max() ?? 0
        let titleWidth = lessons.map { heading($0).count }.max() ?? 0
        return ["lessons (type 'lesson N'):"] + lessons.map {
            "  " + String(repeating: " ", count: numberWidth - $0.number.count) + $0.number + "  "
                + heading($0).padding(toLength: titleWidth) + "  (\($0.steps.count) steps)"
        }
    }

    /// The title without the file's own "01 · " (printed beside the lesson number it repeated).
    static func heading(_ lesson: Lesson) -> String {
        let title = lesson.title
        let digits = title.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, Int(digits) == Int(lesson.number) else { return title }
        let rest = title.dropFirst(digits.count)
        for separator in [" · ", " - ", ". ", " "] where rest.hasPrefix(separator) {
            return String(rest.dropFirst(separator.count))
        }
        return title
    }

    /// Dispatched by the interpreter itself (it runs other commands); this entry gives it help and completion.
    static let nextCommand = Command("next", summary: "run the running lesson's next step (an empty line does the same)") { _, _ throws(CommandError) in
        throw CommandError("next is run by the interpreter")
    }

    static let all: [Command] = [
        Command("lessons", summary: "list the lessons") { session, args throws(CommandError) in
            try Args.none(args, "lessons")
            return list(session)
        },
        Command("lesson", syntax: "N|stop", summary: "step through lesson N: Enter runs each of its commands",
                example: "lesson 1", completion: .lessons) { session, args throws(CommandError) in
            guard args.count == 1 else { throw CommandError("lesson takes a number (type 'lessons' for the list) or 'stop'") }
            if args[0] == "stop" {
                guard session.lessonProgress != nil else { throw CommandError("no lesson is running") }
                return ["lesson stopped; " + finish(session)]
            }
            guard let lesson = LessonCatalog.lesson(args[0], root: session.projectRoot) else {
                let numbers = LessonCatalog.numbers(root: session.projectRoot)
                throw CommandError("no lesson '\(args[0])'; lessons are \(numbers.isEmpty ? "not found" : numbers.joined(separator: ", "))")
            }
            start(lesson, in: session)
            let intro = session.lessonRunsAtOnce ? ["it runs in a fresh session (default options, no run), every step at once"]
                : ["it runs in a fresh session (default options, no run); yours comes back when it ends or at 'lesson stop'",
                   "Enter runs the next step; other commands work in between; 'lesson stop' leaves the lesson"]
            return ["lesson \(lesson.number): \(heading(lesson))  (lessons/\(lesson.file), \(lesson.steps.count) steps)"] + intro
                + announce(session)
        },
    ]
}
