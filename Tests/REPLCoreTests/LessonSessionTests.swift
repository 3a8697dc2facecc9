import Testing
@testable import REPLCore

/// A lesson runs in a fresh session of its own, whatever the learner did before, and the
/// learner's session comes back when it ends or is stopped.
@Suite("Lessons in a used session")
struct LessonSessionTests {
    func fresh() -> Interpreter { Interpreter(session: Session(projectRoot: ProjectFiles.root)) }

    /// Runs lesson `number` with Enter to its end, checking every `# expect:` line; returns the
    /// lines of its last reply (the end of the lesson).
    func runLesson(_ number: String, in interpreter: Interpreter) -> [String] {
        let lesson = LessonCatalog.lesson(number, root: ProjectFiles.root)!
        let start = interpreter.execute("lesson \(number)")
        #expect(!start.isError, "lesson \(number): \(start.lines)")
        var last: [String] = []
        for (k, step) in lesson.steps.enumerated() {
            let reply = interpreter.execute("")
            let output = reply.lines.joined(separator: "\n")
            #expect(reply.lines.first == "grpo> \(step.command)")
            for expected in step.expectations {
                #expect(output.contains(expected), "lesson \(number) step \(k + 1) '\(step.command)': expected '\(expected)' in:\n\(output)")
            }
            last = reply.lines
        }
        #expect(interpreter.session.lessonProgress == nil, "lesson \(number) did not end after its steps")
        return last
    }

    @Test("lessons 1, 2, 3 one after another in a used session print every number they quote, then the session is back")
    func lessonsInARow() {
        let interpreter = fresh()
        for line in ["new 7", "set rows 4", "set num_generations 16", "step", "step", "step", "set beta 0.1"] {
            #expect(!interpreter.execute(line).isError, "\(line)")
        }
        let session = interpreter.session
        let policy = session.trainer.policy.parameters
        for number in ["1", "2", "3"] {
            let end = runLesson(number, in: interpreter)
            #expect(end.last == "back to your session: task copy, seed 7, 3 step(s), batch: rollout 3, rescored after step 3")
            #expect(session.trainer.stepCount == 3 && session.trainer.settings.numGenerations == 16)
            #expect(session.trainer.policy.parameters == policy)
            #expect(session.rowLimit == 4 && session.config.beta == 0.1)
        }
        #expect(interpreter.execute("history 1").lines.last?.hasPrefix("   3") == true)
        #expect(!interpreter.execute("step").isError)
        #expect(session.trainer.stepCount == 4)
    }

    @Test("a lesson starts from the defaults: no run, no batch, default options, and says so")
    func startsFresh() {
        let interpreter = fresh()
        for line in ["example", "set loss_type dapo", "set rows 3", "step"] { _ = interpreter.execute(line) }
        let start = interpreter.execute("lesson 3")
        #expect(start.lines.contains("it runs in a fresh session (default options, no run); yours comes back when it ends or at 'lesson stop'"))
        let session = interpreter.session
        #expect(session.batch == nil && session.trainer.stepCount == 0 && session.trainer.currentRollout == nil)
        #expect(session.config == Session(projectRoot: ProjectFiles.root).config && session.rowLimit == 40)
    }

    @Test("'lesson stop' and a second 'lesson N' bring back the session from before the first lesson")
    func stopAndSwitch() {
        let interpreter = fresh()
        _ = interpreter.execute("example trl")
        _ = interpreter.execute("set epsilon 0.3")
        _ = interpreter.execute("lesson 1")
        _ = interpreter.execute("")
        _ = interpreter.execute("lesson 2")  // a lesson started inside a lesson: still the first session to come back
        _ = interpreter.execute("")
        _ = interpreter.execute("set epsilon 0.1")
        let stop = interpreter.execute("lesson stop")
        #expect(stop.lines == ["lesson stopped; back to your session: task copy, seed 0, 0 step(s), batch: example trl"])
        #expect(interpreter.session.config.epsilon == 0.3 && interpreter.session.lessonProgress == nil)
        #expect(interpreter.execute("lesson stop").lines == ["error: no lesson is running"])
    }

    @Test("on a terminal a step's command is printed before it runs, not with its reply")
    func echoFirst() {
        let interpreter = fresh()
        var printed: [String] = []
        var progressSeen: [String?] = []  // the last line printed when training reported progress
        interpreter.session.printNow = { printed.append($0) }
        interpreter.session.progress = { line in if !line.isEmpty { progressSeen.append(printed.last) } }
        let lesson = LessonCatalog.lesson("2", root: ProjectFiles.root)!  // it has 'train 60'
        _ = interpreter.execute("lesson 2")
        for step in lesson.steps {
            let before = printed.count
            let reply = interpreter.execute("")
            #expect(printed.count == before + 1 && printed.last == "grpo> \(step.command)")
            #expect(reply.lines.first != "grpo> \(step.command)")
        }
        let training = ["grpo> train ", "grpo> seeds ", "grpo> sweep "]
        #expect(!progressSeen.isEmpty && progressSeen.allSatisfy { line in training.contains { line?.hasPrefix($0) == true } },
                "training reports progress after its own echo: \(progressSeen)")
    }

    @Test("on a narrow terminal a lesson's prose is rewrapped to its width; tables stay whole")
    func narrowProse() {
        let prose = ["A paragraph written at about sixty columns, as lessons are,",
                     "continues here and ends.", "| a | b |", "- a list item that is long enough to wrap here",
                     "1. a numbered one", "0.5 is not a list item"]
        let wrapped = LessonCommands.reflow(prose, width: 30)
        #expect(wrapped.allSatisfy { $0.count <= 30 || $0.hasPrefix("|") })
        #expect(wrapped.contains("| a | b |") && wrapped.contains("1. a numbered one 0.5 is not a"))
        #expect(wrapped.first == "A paragraph written at about")
        #expect(wrapped.contains("- a list item that is long") && wrapped.contains("  enough to wrap here"))
        #expect(LessonCommands.reflow(prose, width: 80) == prose, "text that fits is left as written")
    }
}

@Suite("A learner's own commands in a lesson")
struct LessonOwnCommandTests {
    @Test("after a command of the learner's own the next step is named; an option changed, or the run moved on, is said once")
    func reminders() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        _ = interpreter.execute("lesson 4")
        _ = interpreter.execute("")  // step 1: example
        let help = interpreter.execute("help loss").lines
        #expect(help.last == "(lesson 4, step 2/27 is next: set beta 0; Enter runs it)", "\(help)")
        #expect(!help.contains { $0.hasPrefix("you changed") })
        let set = interpreter.execute("set epsilon 0.3").lines
        #expect(set.contains { $0.hasPrefix("you changed epsilon (0.2 -> 0.3): the lesson's numbers from here on assume its own options and steps") })
        let moved = interpreter.execute("rollout").lines
        #expect(moved.contains { $0.hasPrefix("the batch is now rollout 1: the lesson's numbers from here on assume its own steps") }, "\(moved)")
        // A failed command stays one error line; a lesson's own step gets no reminder.
        #expect(interpreter.execute("set epsilon -1").lines.count == 1)
        let step = interpreter.execute("").lines
        #expect(!step.contains { $0.hasPrefix("(lesson 4, step") })
    }

    @Test("lesson prose without Markdown's marks; products and code spans keep their stars")
    func plainProse() {
        #expect(MarkdownText.plain("**All four rows.** The `min takes` column, *italic* here") == "All four rows. The 'min takes' column, italic here")
        #expect(MarkdownText.plain("loss = w_t * L_t, and `a * b` too") == "loss = w_t * L_t, and 'a * b' too")
        #expect(MarkdownText.plain("see [PipelineRL](https://arxiv.org/abs/2509.19128).") == "see PipelineRL (https://arxiv.org/abs/2509.19128).")
        #expect(MarkdownText.plain("## Check yourself") == "Check yourself")
        #expect(MarkdownText.plain("*\"My ratio is 1.\"* Under the rule") == "\"My ratio is 1.\" Under the rule")
        #expect(MarkdownText.plain("2**3 and x*y") == "2**3 and x*y")
    }
}
