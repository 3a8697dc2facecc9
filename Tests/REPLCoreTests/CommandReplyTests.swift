import GRPO
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import REPLCore

/// What commands answer: a setting that starts a new run says so and keeps the run when its value
/// does not change; errors name what was typed and what is accepted.
@Suite("Command replies")
struct CommandReplyTests {
    /// A session with a run of three steps (seed 0).
    func withThreeSteps() -> Interpreter {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        for line in ["new", "step", "step", "step"] { #expect(!interpreter.execute(line).isError, "\(line)") }
        return interpreter
    }

    @Test("setting a new-run option to its current value keeps the run", arguments: ["set seed=0", "set seed 0", "set max_completion_length 8", "set task copy"])
    func unchangedKeepsRun(line: String) {
        let interpreter = withThreeSteps()
        let policy = interpreter.session.trainer.policy.parameters
        let key = line.split(separator: " ")[1].split(separator: "=")[0]
        #expect(interpreter.execute(line).lines.first?.hasPrefix("\(key) = ") == true)
        #expect(interpreter.execute(line).lines.first?.hasSuffix(" (unchanged)") == true)
        #expect(interpreter.session.trainer.stepCount == 3 && interpreter.session.trainer.policy.parameters == policy)
        #expect(interpreter.session.batch != nil)
        let next = interpreter.execute("step").lines.first { $0.hasPrefix("step ") }
        #expect(next?.hasPrefix("step 4:") == true, "\(String(describing: next))")
    }

    @Test("a changed new-run option says it started a new run and how many steps it discarded")
    func changedSaysNewRun() {
        let interpreter = withThreeSteps()
        #expect(interpreter.execute("set seed 1").lines == ["seed: 0 -> 1 (starts a new run: 3 step(s) discarded)"])
        #expect(interpreter.session.trainer.stepCount == 0)
        #expect(interpreter.execute("set max_completion_length 6").lines == ["max_completion_length: 8 -> 6 (starts a new run)"])
        _ = interpreter.execute("step")
        #expect(interpreter.execute("task sum").lines.first == "task: copy -> sum (starts a new run: 1 step(s) discarded)")
        #expect(interpreter.execute("task sum").lines.first == "task = sum (unchanged)")
        // Other training options keep the run.
        _ = interpreter.execute("step")
        #expect(interpreter.execute("set learning_rate 0.1").lines == ["learning_rate: 0.05 -> 0.1"])
        #expect(interpreter.session.trainer.stepCount == 1)
    }

    @Test("after 'explain', setting max_completion_length back to the tiny policy's own value keeps the run")
    func maxCompletionLengthAfterExplain() {
        let interpreter = withThreeSteps()
        #expect(!interpreter.execute("explain lessons/data/13-trl-dump.json").isError)
        let shown = interpreter.session.config.maxCompletionLength
        #expect(shown != 8)
        #expect(interpreter.execute("set max_completion_length 8").lines == ["max_completion_length: \(shown) -> 8"])
        #expect(interpreter.session.trainer.stepCount == 3)
    }

    @Test("set and preset repeat TRL's warning when a change makes one, once")
    func trlWarningNotes() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        #expect(interpreter.execute("set loss_type luspo").lines.count == 2)
        #expect(interpreter.execute("set beta 0").lines == ["beta: 0.04 -> 0"], "the luspo warning is not repeated")
        #expect(interpreter.execute("set importance_sampling_level sequence").lines == ["importance_sampling_level: token -> sequence"])
        let dapo = interpreter.execute("set loss_type dapo").lines
        #expect(dapo.count == 2 && dapo[1].hasPrefix("note: TRL 1.16 warns (and trains anyway): dapo sums the token terms"))
        #expect(interpreter.execute("preset gspo").lines.allSatisfy { !$0.hasPrefix("note:") })
    }

    @Test("errors name what was typed and what is accepted")
    func errorMessages() {
        let interpreter = withThreeSteps()
        #expect(interpreter.execute("average reward from 10 to 1").lines == ["error: from 10 is after to 1: 'from A to B' needs A <= B"])
        #expect(interpreter.execute("average reward from 10").lines == ["error: from 10 is after the last step (3)"])
        #expect(interpreter.execute("rollout al").lines == ["error: rollout takes nothing or 'all' (every row), not 'al'"])
        #expect(interpreter.execute("step all").lines == ["error: step takes no argument, got 'all'; see 'help step'"])
        #expect(interpreter.execute("tasks x").lines == ["error: tasks takes no argument, got 'x'; see 'help tasks'"])
        #expect(interpreter.execute("show x y").lines.first?.hasPrefix("error: config (or show) takes at most one") == true)
        #expect(interpreter.execute("show betta").lines == ["error: unknown option 'betta'; did you mean 'beta'? ('config' lists every option)"])
        #expect(interpreter.session.trainer.stepCount == 3)
    }

    @Test("hints for other libraries' option names, each one parenthesis group")
    func otherNames() {
        let interpreter = withThreeSteps()
        for (key, target) in [("kl_coef", "'beta'"), ("kl_loss_coef", "'beta'"), ("clip_range", "'epsilon'"), ("clip_ratio_c", "'delta_form'"), ("kl_loss_type", "'kl_estimator'")] {
            let line = interpreter.execute("set \(key) 1").lines[0]
            #expect(line.hasPrefix("error: unknown option '\(key)'; ") && line.contains(target), "\(line)")
            #expect(!line.contains(") ("), "\(line)")
        }
    }

    @Test("'show KEY' and 'config KEY' print one option; 'show KIND' one table")
    func showOne() {
        let interpreter = withThreeSteps()
        let beta = interpreter.execute("show beta")
        #expect(!beta.isError && beta.lines.first?.hasPrefix("beta = 0.04   loss option: ") == true, "\(beta.lines)")
        #expect(interpreter.execute("config beta").lines == beta.lines)
        let training = interpreter.execute("show training").lines
        #expect(training.first == "training options" && training.contains { $0.hasPrefix("seed ") })
        #expect(!training.contains { $0.hasPrefix("beta ") })
        #expect(interpreter.execute("show config").lines == interpreter.execute("config").lines)
    }

    @Test("set accepts a space on either side of '='", arguments: ["set beta =0.1", "set beta= 0.1", "set beta = 0.1", "set beta=0.1", "set beta 0.1"])
    func spacesAroundEquals(line: String) {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        #expect(interpreter.execute(line).lines == ["beta: 0.04 -> 0.1"])
    }

    @Test("the batch a step leaves on screen is named by its step number")
    func rescoredAfterStep() {
        let interpreter = withThreeSteps()
        #expect(interpreter.execute("ratio").lines.first == "batch: rollout 3, rescored after step 3  (naive path)")
    }

    @Test("help wraps to the session's line width")
    func helpWidth() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let wide = interpreter.execute("help").lines
        #expect(wide.contains { $0.count > 80 })
        interpreter.session.lineWidth = 80
        for line in interpreter.execute("help").lines + interpreter.execute("help chart").lines {
            #expect(line.count <= 80, "\(line)")
        }
    }

    @Test("values are read as written: decimal numbers, true or false; quit and next take no argument; Tab offers 'lesson stop'")
    func strictValues() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let hex = interpreter.execute("set learning_rate=0x10")
        #expect(hex.isError && hex.lines == ["error: learning_rate must be a number in (0, 100], not '0x10'"])
        #expect(interpreter.execute("set epsilon=nan").isError && interpreter.execute("set epsilon=inf").isError)
        #expect(interpreter.execute("set cross_check=yes").lines == ["error: cross_check must be true or false, not 'yes'"])
        #expect(interpreter.execute("set use_bias_correction_kl=1").isError)
        #expect(!interpreter.execute("set use_bias_correction_kl=TRUE").isError)
        let quit = interpreter.execute("quit now")
        #expect(quit.isError && !quit.quit && quit.lines == ["error: quit takes no argument, not 'now'"])
        #expect(interpreter.execute("quit").quit)
        #expect(Completer.candidates(line: "lesson ", wordStart: 7, session: interpreter.session).contains("stop"))
    }

    @Test("compare presets uses the session's max_completion_length, as 'preset' does")
    func comparePresetsLength() throws {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        _ = interpreter.execute("rollout")
        let row = try #require(interpreter.execute("compare presets").lines.first { $0.hasPrefix("dr_grpo ") })
        _ = interpreter.execute("preset dr_grpo")
        let loss = try Naive.breakdown(interpreter.session.currentBatch(), config: interpreter.session.config).loss
        #expect(row.split(separator: " ", omittingEmptySubsequences: true)[1] == Substring(Fmt.num(loss)), "\(row) vs \(loss)")
    }

    @Test("savebatch says when explain would refuse the file it wrote")
    func savebatchNote() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let path = "/tmp/grpo-savebatch-\(UInt64.random(in: 0..<UInt64.max)).json"
        defer { unlink(path) }
        _ = interpreter.execute("example trl")
        let golden = interpreter.execute("savebatch \(path)").lines
        #expect(golden.count == 2 && golden[1].hasPrefix("note: 'explain' will refuse this file: ") && golden[1].contains("logp[1]: 0.5 is above 0"))
        _ = interpreter.execute("example")
        #expect(interpreter.execute("savebatch \(path)").lines.count == 1)
    }
}

@Suite("Training with options the sampler correction refuses")
struct SamplerOptionTrainingTests {
    @Test("sampler bounds the wrong way round are refused where they are made, naming both options and the sampler (the trainer once trapped)")
    func boundsRefusedAtSet() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        // Without a mismatched sampler no batch has sampler log-probs: the bound alone is accepted.
        #expect(!interpreter.execute("set vllm_importance_sampling_clip_min 8").isError)
        let refused = interpreter.execute("set sampler_precision bfloat16")
        #expect(refused.lines == ["error: sampler_precision bfloat16 refused: vllm_importance_sampling_clip_min (8.0) must be below "
                                  + "vllm_importance_sampling_clip_max (3.0), and every batch has sampler log-probs (sampler_precision "
                                  + "bfloat16); change the other option first, or 'set vllm_importance_sampling_correction false'"])
        #expect(interpreter.session.trainer.settings.samplerPrecision == .exact)
        #expect(interpreter.execute("set vllm_importance_sampling_clip_max 10").lines.first?.hasPrefix("vllm_importance_sampling_clip_max") == true)
        #expect(!interpreter.execute("set sampler_precision bfloat16").isError)
        #expect(interpreter.execute("set vllm_importance_sampling_clip_max 5").lines.first?.hasPrefix("error: vllm_importance_sampling_clip_max 5 refused") == true)
        #expect(!interpreter.execute("step").isError)
    }

    @Test("load refuses a session whose options cannot take its own sampler's batches, and keeps the session as it was")
    func loadRefusesTheCombination() throws {
        let directory = TemporaryDirectory("grpo-load")
        defer { directory.remove() }
        let path = directory.file("s.json")
        let writer = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        for line in ["set vllm_importance_sampling_correction false", "set sampler_precision bfloat16",
                     "set vllm_importance_sampling_clip_min 8", "save \(path)"] {
            #expect(!writer.execute(line).isError, "\(line)")
        }
        // Hand-edited back on: the combination set would have refused.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: #""vllm_importance_sampling_correction" : "false""#,
                                      with: #""vllm_importance_sampling_correction" : "true""#).write(toFile: path, atomically: true, encoding: .utf8)
        let reader = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        _ = reader.execute("set beta 0.3")
        #expect(reader.execute("load \(path)").lines == ["error: \(path): its options do not fit its sampler: vllm_importance_sampling_clip_min (8.0) "
                                                         + "must be below vllm_importance_sampling_clip_max (3.0), and every batch has sampler "
                                                         + "log-probs (sampler_precision bfloat16)"])
        #expect(reader.session.config.beta == 0.3 && reader.session.trainer.settings.samplerPrecision == .exact)
    }

    @Test("a stale sampler's batch shows each token's lag and its ratio against the weights that sampled it")
    func staleSamplerColumns() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        for line in ["set max_staleness 2", "set weight_update_interval 30", "train 3"] { #expect(!interpreter.execute(line).isError) }
        let header = interpreter.execute("tokens").lines.first { $0.hasPrefix("g  i  t") }
        #expect(header?.contains(" lag ") == true && header?.contains("pi/pi_sampler") == true, "\(header ?? "")")
        let rollout = interpreter.execute("rollout").lines
        #expect(rollout.contains { $0.hasPrefix("stale sampler (max_staleness 2): tokens sampled by weights 2 to 0 updates behind") }, "\(rollout)")
        let fresh = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        _ = fresh.execute("train 1")
        #expect(fresh.execute("tokens").lines.first { $0.hasPrefix("g  i  t") }?.contains("lag") == false)
    }

    @Test("mismatch on a stale batch whose old_logp is the sampler's says why there is no weight, not how to make a mismatch")
    func mismatchUnderSamplerOldLogp() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        for line in ["set max_staleness 2", "set old_logp_source sampler", "train 3", "rollout"] { #expect(!interpreter.execute(line).isError) }
        let reply = interpreter.execute("mismatch").lines
        #expect(reply.first?.contains("with 'old_logp_source sampler' its old_logp already is the sampler's") == true, "\(reply)")
        let fresh = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        _ = fresh.execute("train 1")
        #expect(fresh.execute("mismatch").lines.first?.contains("pi_old sampled it itself") == true)
    }
}

@Suite("explain in the session, and the batch shown again")
struct BatchAgainTests {
    @Test("explain FILE lists each loss option it changed, as preset does")
    func explainListsChanges() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let lines = interpreter.execute("explain lessons/data/16-rescored.json").lines
        // The file's config: loss_type dapo, beta 0, scale_rewards none, token_truncate; the
        // session starts from deepseekmath's grpo, 0.04, group and sequence_mask.
        for change in ["  loss_type: grpo -> dapo", "  beta: 0.04 -> 0", "  scale_rewards: group -> none",
                       "  vllm_importance_sampling_mode: sequence_mask -> token_truncate"] {
            #expect(lines.contains(change), "\(change) in \(lines)")
        }
        let again = interpreter.execute("explain lessons/data/16-rescored.json").lines
        #expect(again.contains("  (the session's loss options were these already)"))
    }

    @Test("batch shows the current rollout again without sampling, and a file's batch row by row")
    func batchAgain() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let rollout = interpreter.execute("rollout all").lines
        let steps = interpreter.session.trainer.iterationCount
        let shown = interpreter.execute("batch all").lines
        #expect(shown == rollout && interpreter.session.trainer.iterationCount == steps)
        _ = interpreter.execute("explain lessons/data/16-rescored.json")
        // One group, rewards 1 and 0, scale_rewards none: A = +-0.5; lengths 2 and 1.
        let file = interpreter.execute("batch").lines
        #expect(file.first == "batch: file lessons/data/16-rescored.json, 1 group(s) x G = 2, 3 tokens")
        #expect(file.contains("0  0      2       1   0.5") && file.contains("0  1      1       0  -0.5"), "\(file)")
        #expect(Interpreter(session: Session(projectRoot: ProjectFiles.root)).execute("batch").isError)
    }
}

@Suite("mismatch's table")
struct MismatchTableTests {
    @Test("the mode in use comes first; a batch whose every rho is 1 says why")
    func activeFirst() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        for line in ["set sampler_precision bfloat16", "set vllm_importance_sampling_mode token_mask", "rollout"] {
            #expect(!interpreter.execute(line).isError)
        }
        let lines = interpreter.execute("mismatch").lines
        let header = lines.first { $0.hasPrefix("g  i") } ?? ""
        #expect(header.range(of: "token_mask")!.lowerBound < header.range(of: "token_truncate")!.lowerBound, "\(header)")
        #expect(lines.contains { $0.hasPrefix("every rho is exactly 1: the sampler's numbers are pi_old's on this batch") })
    }
}

@Suite("explain in the session takes explain's loss flags")
struct SessionExplainFlagsTests {
    @Test("--preset, --set and --logged as at the shell; --json and the like say what to use instead")
    func flags() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let reply = interpreter.execute("explain lessons/data/example-batch.json --preset=trl --set beta=0.1")
        #expect(!reply.isError, "\(reply.lines)")
        // The file sets loss_type grpo over trl's dapo; trl's bias-corrected KL stays; --set comes last.
        #expect(interpreter.session.config.beta == 0.1 && interpreter.session.config.lossType == .grpo
                && interpreter.session.config.useBiasCorrectionKL)
        #expect(reply.lines.first == "batch: lessons/data/example-batch.json, 1 group(s) x G = 2, 3 tokens")
        #expect(interpreter.execute("explain lessons/data/example-batch.json --json").lines
                == ["error: --json is for 'grpo-repl explain' at the shell; in the session 'savebatch FILE' writes the batch"])
        #expect(interpreter.execute("explain --help").lines.first?.hasPrefix("explain FILE [--preset NAME]") == true)
        #expect(interpreter.execute("explain a.json b.json").lines.first?.hasPrefix("error: unexpected argument 'b.json'") == true)
    }
}
