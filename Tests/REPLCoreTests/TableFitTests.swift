import Testing
@testable import REPLCore

/// Tables and prose as a terminal of a given width shows them (`Fmt.fit`): nothing wider than
/// the terminal, nothing lost without a word.
@Suite("Output that fits the terminal")
struct TableFitTests {
    /// A table of four columns: id, two numbers, and an `entropy` column (a secondary one).
    func sample() -> [String] {
        var table = Table(title: "the title", columns: [.text("id"), .number("value"), .number("entropy"), .number("gradient")])
        table.add(["a", "1.5", "0.25", "-0.125"])
        table.addGroupBreak()
        table.add(["b", "-2", "3", "0.5"])
        return table.render() + ["a note under it"]
    }

    @Test("a table that fits is left as it is, and so is everything at width 200")
    func fits() {
        #expect(Fmt.fit(sample(), width: 200) == sample())
        #expect(Fmt.fit(sample(), width: sample().map(\.count).max()!) == sample())
    }

    @Test("too wide: the secondary column goes first, a rule stays a rule, the note under the table is kept, and a line says what went")
    func dropsSecondaryFirst() {
        // id  value  entropy  gradient = 2 + 2 + 5 + 2 + 7 + 2 + 8 = 28 columns; 22 leave out entropy (28 - 9 = 19).
        let fitted = Fmt.fit(sample(), width: 22)
        #expect(fitted == ["the title", "id  value  gradient", "--  -----  --------", "a     1.5    -0.125", "--  -----  --------",
                           "b    -2       0.5", "(left out to fit 22", "  columns: entropy; a", "  wider window, or the", "  output piped to a",
                           "  file, shows every", "  column)", "a note under it"])
    }

    @Test("a prose last column is wrapped under itself instead of dropped")
    func wrapsProse() {
        var table = Table(columns: [.text("key"), .text("accepts")])
        table.add(["beta", "a number in [0, 1000000]"])
        table.add(["loss_type", "one of grpo, bnpo, dapo, dr_grpo, cispo, sapo, luspo, vespo"])
        // key column 9 wide + 2: the text gets 20 of the 31 columns.
        let fitted = Fmt.fit(table.render(), width: 31)
        #expect(fitted == ["key        accepts", "---------  --------------------", "beta       a number in [0,", "           1000000]",
                           "loss_type  one of grpo, bnpo,", "           dapo, dr_grpo,", "           cispo, sapo, luspo,", "           vespo"])
        #expect(fitted.allSatisfy { $0.count <= 31 })
    }

    @Test("a table that would keep fewer than half its columns is shown vertically, every value kept")
    func vertical() {
        // At 8 columns only `id` (2) would stay of the four: one row per pair instead.
        let fitted = Fmt.fit(sample(), width: 8)
        #expect(fitted.allSatisfy { $0.count <= 8 }, "\(fitted)")
        #expect(!fitted.contains { $0.hasPrefix("(left out") })
        let joined = fitted.joined(separator: " ")
        for value in ["1.5", "0.25", "-0.125", "-2", "3", "0.5", "gradient"] { #expect(joined.contains(value), "\(value)") }
    }

    /// Every command that prints a table, after what it needs.
    static let commands: [(setup: [String], command: String)] = [
        (["example"], "tokens"), (["example"], "tokens all"), ([], "config"), (["example"], "advantages"), (["example"], "ratio"),
        (["example"], "clip"), (["example"], "kl"), (["example"], "loss"), (["example"], "grad"), (["example"], "logprobs"),
        (["example"], "metrics"), (["example"], "compare"), (["example"], "compare loss_type"), (["example"], "compare presets"),
        (["example"], "surrogate"), (["example"], "forking"), (["example"], "gradcheck"), (["example"], "verl"),
        (["set sampler_precision bfloat16", "rollout"], "mismatch"), (["rollout"], "klexact"), (["rollout"], "rollout"),
        (["train 3"], "step"), (["train 3"], "history"), (["train 3"], "policy"), ([], "tasks"), ([], "task"),
        (["set max_staleness 4", "set weight_update_interval 3", "train 6"], "tokens"),
        (["set max_staleness 4", "train 6"], "rollout all"),
        ([], "seeds 2 train 3"), ([], "sweep max_staleness 0,2,4 seeds 2 budget 96 measure expected_reward reach 0.2 window 2"),
        ([], "help"), ([], "help sweep"),
    ]

    @Test("every table command fits 80 and 200 columns on a terminal", arguments: [80, 200])
    func everyCommand(width: Int) {
        for (setup, command) in Self.commands {
            let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
            for line in setup { #expect(!interpreter.execute(line).isError, "\(line)") }
            let reply = interpreter.execute(command)
            #expect(!reply.isError, "\(command): \(reply.lines.first ?? "")")
            let long = Fmt.fit(reply.lines, width: width).filter { $0.count > width }
            #expect(long.isEmpty, "\(command) at \(width): \(long.first ?? "")")
        }
    }
}

@Suite("Rounding noise printed as 0")
struct RoundingNoiseTests {
    @Test("a sum within its bound prints as 0 with the exact value beside it; anything else as it is")
    func format() {
        #expect(Fmt.sum(9.251858539e-18, bound: 1e-15) == "0 (zero within rounding: the terms summed to 9.252e-18)")
        #expect(Fmt.sum(0, bound: 1e-15) == "0")
        #expect(Fmt.sum(2e-15, bound: 1e-15) == Fmt.num(2e-15, digits: 10))
        #expect(Fmt.sum(0.01564290098, bound: 1e-15) == "0.01564290098")
    }

    @Test("lesson 02's batch: 'loss' prints 0 and says why; explain --json keeps the exact sum")
    func lessonBatch() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let reply = interpreter.execute("explain lessons/data/02-rewards.json")
        #expect(!reply.isError, "\(reply.lines)")
        let loss = interpreter.execute("loss").lines.last { $0.hasPrefix("loss = ") }
        #expect(loss?.hasPrefix("loss = 0 (zero within rounding: the terms summed to 9.252e-18)") == true, "\(loss ?? "")")
        let json = ExplainCommand.run([ProjectFiles.root + "/lessons/data/02-rewards.json", "--json"])
        #expect(json.status == 0 && json.output.contains("9.25185853"), "\(json.errors)")
    }
}
