import GRPO
import Testing
@testable import REPLCore

@Suite("The command table")
struct CommandTableTests {
    func fresh() -> Interpreter { Interpreter(session: Session(projectRoot: ProjectFiles.root)) }

    @Test("names and aliases are unique, every command has a summary and help")
    func uniqueNamesAndHelp() {
        let names = CommandTable.names
        #expect(Set(names).count == names.count, "duplicated names: \(names)")
        let interpreter = fresh()
        for command in CommandTable.all {
            #expect(!command.summary.isEmpty, "\(command.name) has no summary")
            let reply = interpreter.execute("help \(command.name)")
            #expect(!reply.isError && reply.lines.first == command.usage, "help \(command.name): \(reply.lines)")
            #expect(reply.lines.contains("  example: \(command.example)"))
        }
    }

    @Test("help shows both forms of set, and quit's example under its alias")
    func helpForms() {
        let interpreter = fresh()
        #expect(interpreter.execute("help set").lines.first == "set key=value | key value")
        #expect(interpreter.execute("help exit").lines.last == "  example: quit")
    }

    @Test("every command's example runs without an error (after a batch and a few steps exist)")
    func examplesRun() {
        let interpreter = fresh()
        for setup in ["example", "rollout", "step", "step"] { #expect(!interpreter.execute(setup).isError) }
        for command in CommandTable.all where command.name != "quit" {
            var example = command.example
            if command.name == "load" { _ = interpreter.execute("save /tmp/grpo-command-table-test.json") }
            if command.name == "explain" { example = "explain lessons/data/example-batch.json" }
            let reply = interpreter.execute(example)
            #expect(!reply.isError, "'\(example)': \(reply.lines.joined(separator: "\n"))")
            _ = interpreter.execute("example")
        }
    }

    @Test("source prints the naive path's code of every term it lists, from its doc comment to its closing brace")
    func sourceEveryTerm() {
        let interpreter = fresh()
        for (term, file, function) in SourceCommand.terms {
            let reply = interpreter.execute("source \(term)")
            #expect(!reply.isError, "source \(term): \(reply.lines.first ?? "")")
            #expect(reply.lines.first == "// Sources/GRPO/Naive/\(file): \(function)")
            #expect(reply.lines.contains { $0.contains("func \(function)") } && reply.lines.last?.hasSuffix("}") == true)
        }
    }

    @Test("Tab completion: command names, option names, option values, presets, tasks, terms")
    func completion() {
        let session = Session(projectRoot: ProjectFiles.root)
        func complete(_ line: String) -> [String] {
            let start = line.lastIndex { $0 == " " || $0 == "=" }.map { line.distance(from: line.startIndex, to: $0) + 1 } ?? 0
            return Completer.candidates(line: line, wordStart: start, session: session)
        }
        #expect(complete("ro") == ["rollout"])
        #expect(complete("set loss_t") == ["loss_type"])
        #expect(complete("set loss_type ") == GRPOConfig.LossType.allCases.map(\.rawValue).sorted())
        #expect(complete("set loss_type=dr") == ["dr_grpo"])
        #expect(complete("set scale_rewards ") == ["batch", "group", "none"])
        #expect(complete("preset g") == ["gspo"])
        #expect(complete("task ") == ["copy", "lock", "sum"])
        #expect(complete("source cl") == ["clamp", "clip"])
        #expect(complete("help tr") == ["train"])
        #expect(complete("compare l") == ["loss_type"])
        #expect(complete("lesson ").contains("1"))
        #expect(complete("config tr") == ["training"])
        #expect(complete("show be") == ["beta"])
        // The library's own names only: verl's appear under 'set library verl', TRL's under trl.
        #expect(complete("show max_resp") == [])
        #expect(complete("show use_kl") == [])
        _ = Interpreter(session: session).execute("set library verl")
        #expect(complete("show use_kl") == ["use_kl_loss"])
        #expect(complete("nonsense ") == [])
        #expect(Completer.wantsFiles(line: "explain ", wordStart: 8))
        #expect(!Completer.wantsFiles(line: "set ", wordStart: 4))
    }

    @Test("an unknown command suggests the closest one; bad arguments say what is accepted")
    func errors() {
        let interpreter = fresh()
        #expect(interpreter.execute("trian 5").lines == ["error: unknown command 'trian'; did you mean 'train'? (type 'help' for the list)"])
        #expect(interpreter.execute("train 999999999").lines == ["error: the number of iterations must be from 1 to 100000, not 999999999"])
        #expect(interpreter.execute("train lots").lines == ["error: the number of iterations must be a whole number from 1 to 100000, not 'lots'"])
        #expect(interpreter.execute("set num_generations 100000").isError)
        #expect(interpreter.execute("set epsilon=-1").lines == ["error: epsilon must be a number in [0, 100], not -1"])
        #expect(interpreter.execute("set lr 1").lines == ["error: unknown option 'lr'; the learning rate is 'learning_rate' ('config' lists every option)"])
        #expect(interpreter.execute("ratio").lines.first?.hasPrefix("error: no batch yet") == true)
        #expect(interpreter.execute("set \"open").lines == ["error: a quote is not closed"])
    }

    @Test("an invalid set changes nothing")
    func invalidSetChangesNothing() {
        let interpreter = fresh()
        let before = interpreter.session.config
        let settings = interpreter.session.trainer.settings
        for line in ["set beta -1", "set loss_type ppo", "set delta 0", "set num_iterations 0", "set task chess", "set temperature 0"] {
            #expect(interpreter.execute(line).isError, "\(line)")
        }
        #expect(interpreter.session.config == before)
        #expect(interpreter.session.trainer.settings == settings)
    }

    @Test("words: quotes keep spaces, # starts a comment")
    func words() throws {
        #expect(try Interpreter.words("explain \"my batch.json\"  --x") == ["explain", "my batch.json", "--x"])
        #expect(try Interpreter.words("# a comment") == [])
        #expect(try Interpreter.words("   ") == [])
    }
}
