import Foundation
import GRPO
import Testing
@testable import REPLCore

@Suite("Batch files")
struct BatchFileTests {
    func contents(_ text: String) throws(InputError) -> BatchFile.Contents {
        let json: JSONValue
        do { json = try JSONParser.parse(text) } catch { throw InputError("bad test JSON: \(error)") }
        let contents = try BatchFile.decode(json, name: "b.json", base: GRPOConfig())
        do { try contents.batch.validate(for: contents.config) } catch { throw InputError("b.json: \(error.message)") }
        return contents
    }

    func decode(_ text: String) throws(InputError) -> (GRPOConfig, Batch) {
        let c = try contents(text)
        return (c.config, c.batch)
    }

    func message(_ text: String) -> String? {
        do { _ = try decode(text); return nil } catch { return error.message }
    }

    let good = #"{"config": {"loss_type": "dapo", "beta": 0, "epsilon_high": null}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-0.2, -1.3], "old_logp": [-0.5, -1.2]}, {"logp": []}]}]}"#

    @Test("a null reward in one group only: that completion is unscorable (A = 0), the other groups read as before")
    func nullRewardInOneGroup() throws {
        let (config, batch) = try decode(#"{"config": {"beta": 0}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-1]}]}, {"rewards": [1, null], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#)
        #expect(batch.completions.map(\.rewardsPerFunction) == [[1], [0], [1], [nil]])
        let b = try Vectorized.breakdown(batch, config: config)
        // Group 0: A = +-0.5 / (0.7071 + 1e-4); group 1 has one scored reward, no std: both A = 0.
        #expect(abs(b.advantages[0] - 0.5 / (0.5.squareRoot() + 1e-4)) < 1e-12 && b.advantages[2] == 0 && b.advantages[3] == 0)
    }

    @Test("reads config and groups; old_logp defaults to logp; null means none")
    func reads() throws {
        let (config, batch) = try decode(good)
        #expect(config.lossType == .dapo && config.beta == 0 && config.epsilonHigh == nil)
        #expect(batch.completions[0].oldLogp == [-0.5, -1.2])
        #expect(batch.completions[1].length == 0)
        #expect(batch.groups[0].rewards == [1, 0])
    }

    @Test("each malformed field gets a message naming the file and the field")
    func errors() {
        #expect(message(#"[1]"#) == #"b.json: expected an object with "groups", found a list"#)
        #expect(message(#"{"groups": [], "extra": 1}"#) == #"b.json: unknown key "extra" at the top level; expected "config" (or "verl"), "groups" and "logged""#)
        #expect(message(#"{"config": {"lr": 1}, "groups": []}"#)?.hasPrefix(#"b.json: config: unknown option "lr"; options are loss_type"#) == true)
        #expect(message(#"{"config": {"loss_type": "ppo"}, "groups": []}"#) == "b.json: config: loss_type must be one of grpo, bnpo, dapo, dr_grpo, cispo, sapo, luspo, vespo, not 'ppo'")
        #expect(message(#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}]}]}"#)
                == "b.json: groups[0]: 2 rewards but 1 completions; give one per completion")
        #expect(message(#"{"groups": [{"rewards": [1, "x"], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#)
                == "b.json: groups[0].rewards[1]: expected a number or null, found a string")
        #expect(message(#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1, 0.5]}, {"logp": [-1]}]}]}"#)
                == "b.json: groups[0].completions[0].logp[1]: 0.5 is above 0, and a log-probability is <= 0")
        #expect(message(#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1], "old_logp": [-1, -2]}, {"logp": [-1]}]}]}"#)
                == "b.json: groups[0].completions[0].old_logp: 2 values, but logp has 1; give one per token")
        #expect(message(#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1], "logprobs": [-1]}, {"logp": [-1]}]}]}"#)
                == #"b.json: groups[0].completions[0]: unknown key "logprobs"; a completion has logp, old_logp, ref_logp, entropy, sampler_logp, truncated, mask"#)
        #expect(message(#"{"groups": [{"rewards": [1], "completions": [{"logp": [-1]}]}]}"#)
                == "b.json: group 0 has 1 completion(s); GRPO needs G >= 2 (or give each completion's advantage)")
        // The default beta is 0.04, which needs ref_logp.
        #expect(message(#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#)
                == "b.json: beta is 0.04 but no completion has ref_logp; give ref_logp or set beta=0")
    }

    @Test("a group may give advantages instead of rewards; encode writes them back")
    func advantages() throws {
        let text = #"{"config": {"beta": 0}, "groups": [{"advantages": [0.5, -1.5, 2], "completions": [{"logp": [-1]}, {"logp": [-2, -3]}, {"logp": []}]}]}"#
        let (config, batch) = try decode(text)
        #expect(batch.hasGivenAdvantages && batch.completions.map(\.advantage) == [0.5, -1.5, 2])
        #expect(try Vectorized.breakdown(batch, config: config).advantages == [0.5, -1.5, 2])
        let (_, again) = try decode(BatchFile.encode(batch, config: config).rendered(pretty: false))
        #expect(again == batch)
        #expect(message(#"{"config": {"beta": 0}, "groups": [{"rewards": [1], "advantages": [1], "completions": [{"logp": [-1]}]}]}"#)
                == #"b.json: groups[0]: give one of "rewards", "advantages" and "rewards_per_func", not rewards and advantages"#)
        #expect(message(#"{"config": {"beta": 0}, "groups": [{"completions": [{"logp": [-1]}]}]}"#)
                == #"b.json: groups[0]: missing "rewards" (or "advantages", or "rewards_per_func")"#)
        #expect(message(#"{"config": {"beta": 0}, "groups": [{"advantages": [1], "completions": [{"logp": [-1]}]}, {"rewards": [1], "completions": [{"logp": [-1]}]}]}"#)
                == "b.json: advantage is given for 1 of 2 completions; give it for all or none")
    }

    @Test("scale_rewards true/false read as TRL reads them; a value explain refuses is named before saving")
    func tolerantAndHonest() throws {
        let (config, _) = try decode(#"{"config": {"beta": 0, "scale_rewards": false}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#)
        #expect(config.scaleRewards == .none)
        let (grouped, _) = try decode(#"{"config": {"beta": 0, "scale_rewards": true}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-1]}]}]}"#)
        #expect(grouped.scaleRewards == .group)
        #expect(message(#"{"config": {"kl_coef": 0}, "groups": []}"#) == #"b.json: config: unknown option "kl_coef"; the KL weight is 'beta'"#)
    }

    @Test("without the naive path (a big batch) explain shows the vectorized path's numbers and says why")
    func vectorizedOnly() throws {
        let (config, batch) = try decode(good)
        let v = try Vectorized.breakdown(batch, config: config)
        let text = ExplainText.render(config: config, batch: batch, naive: nil, vectorized: v, showAll: false)
        #expect(text.contains("loss = \(Fmt.num(v.loss, digits: 10))"))
        #expect(text.contains("vectorized path only: 2 tokens is more than the naive path's \(Naive.comfortableTokenCount)"))
        guard case .object(let doc) = ExplainJSON.document(config: config, naive: nil, vectorized: v),
              case .object(let paths)? = doc["paths"] else { Issue.record("not an object"); return }
        #expect(paths.keys == ["vectorized"] && doc["max_abs_diff"] == .null)
    }

    @Test("explain runs the naive path up to its token limit, or when --naive asks")
    func naiveLimit() {
        var request = ExplainCommand.Request(path: ProjectFiles.resolve("examples/trl-run/gspo-step2.json", root: ProjectFiles.root))
        request.naiveTokenLimit = 10
        #expect(ExplainCommand.run(request).output.contains("vectorized path only"))
        request.forceNaive = true
        #expect(ExplainCommand.run(request).output.contains("naive vs vectorized: largest |difference|"))
        request.forceNaive = false
        request.naiveTokenLimit = Naive.comfortableTokenCount
        #expect(ExplainCommand.run(request).output.contains("naive vs vectorized: largest |difference|"))
    }

    @Test("--naive is refused, with the memory it would need, when the naive path cannot fit (22M tokens under a 6 GB limit)")
    func naiveMemory() {
        // 22,000,000 tokens x 2048 bytes = 45.056 GB; 3/4 of 6 GiB = 4.831838208 GB.
        let problem = NaiveBudget.problem(tokens: 22_000_000, usable: (6 << 30) / 4 * 3)
        #expect(problem?.hasPrefix("--naive on 22000000 tokens needs about 45.1 GB") == true
                && problem?.contains("this process can use about 4.83 GB") == true, "\(problem ?? "nil")")
        #expect(NaiveBudget.problem(tokens: 200_000, usable: 1 << 30) == nil)
        #expect(NaiveBudget.problem(tokens: Int.max, usable: 1 << 30)?.contains("needs about more than") == true)
        #expect(NaiveBudget.usableBytes > 0)
    }

    @Test("in the REPL a batch above the limit shows the vectorized path, and compare says why it cannot run")
    func replNaiveLimit() {
        let session = Session(projectRoot: ProjectFiles.root)
        let n = Naive.comfortableTokenCount / 2 + 1
        let long = { (r: Double) in Completion(reward: r, logp: [Double](repeating: -1, count: n)) }
        session.config.beta = 0
        session.show(Batch(groups: [Group(completions: [long(1), long(0)])]), origin: "test")
        let interpreter = Interpreter(session: session)
        let loss = interpreter.execute("loss")
        #expect(!loss.isError && loss.lines[0].hasSuffix("(vectorized path: too many tokens for the naive path)"))
        let compare = interpreter.execute("compare")
        #expect(compare.isError && compare.lines[0].contains("the batch has \(2 * n) tokens"))
    }

    @Test("compare loss_type, compare presets and surrogate on a batch above the naive limit: the vectorized path, rows past the limit only counted, Ctrl-C honoured")
    func bigBatchCommands() {
        let session = Session(projectRoot: ProjectFiles.root)
        // Small limits, so that the test is quick: the rules are the same at 100,000.
        session.naiveTokenLimit = 30
        session.allRowLimit = 50
        let n = 40
        let long = { (r: Double) in Completion(reward: r, logp: [Double](repeating: -1, count: n)) }
        session.config.beta = 0
        session.show(Batch(groups: [Group(completions: [long(1), long(0)])]), origin: "test")
        let interpreter = Interpreter(session: session)
        let hidden = 2 * n - session.rowLimit
        for line in ["compare loss_type", "compare presets", "surrogate"] {
            let reply = interpreter.execute(line)
            #expect(!reply.isError, "\(line): \(reply.lines.prefix(3))")
            #expect(reply.lines.count < 100, "\(line): \(reply.lines.count) lines")
            if line != "compare presets" {
                #expect(reply.lines.contains("... \(hidden) more rows (type '\(line) all' to see every row)"), "\(line)")
            }
        }
        // 'all' stops at its own limit and says where every token is.
        #expect(interpreter.execute("surrogate").lines[0].hasSuffix("(vectorized path: too many tokens for the naive path)"))
        let all = interpreter.execute("surrogate all")
        #expect(all.lines.contains("... \(2 * n - 50) more rows ('all' shows at most 50; "
                                   + "'grpo-repl explain FILE --json' writes every token)"))
        session.shouldStop = { true }
        for line in ["compare loss_type", "compare presets"] {
            let reply = interpreter.execute(line)
            #expect(reply.isError && reply.lines[0] == "error: interrupted: nothing more was computed", "\(line): \(reply.lines)")
        }
    }

    @Test("explain's tables stop at their row limit unless --all")
    func cutTables() throws {
        let rows = ExplainText.rowLimit + 10
        let batch = Batch(groups: [Group(completions: (0..<rows).map { Completion(reward: 0, logp: [-1], advantage: Double($0)) })])
        var config = GRPOConfig()
        config.beta = 0
        let v = try Vectorized.breakdown(batch, config: config)
        let cut = ExplainText.render(config: config, batch: batch, naive: nil, vectorized: v, showAll: false)
        #expect(cut.contains("... 10 more completions (add --all to see every completion)"))
        #expect(cut.contains("... 10 more tokens (add --all to see every token)"))
        let all = ExplainText.render(config: config, batch: batch, naive: nil, vectorized: v, showAll: true)
        #expect(!all.contains("more completions") && !all.contains("more tokens"))
    }

    @Test("encode then decode gives the same batch and config")
    func roundTrip() throws {
        let (config, batch) = try decode(good)
        let text = BatchFile.encode(batch, config: config).rendered(pretty: true)
        let (config2, batch2) = try decode(text)
        #expect(config2 == config)
        #expect(batch2 == batch)
    }

    @Test("explain arguments")
    func arguments() throws {
        let r = try ExplainCommand.parse(["b.json", "--json", "--preset", "trl", "--set", "beta=0.1", "--all"])
        #expect(r.path == "b.json" && r.json && r.showAll && r.preset == .trl && r.sets.map(\.key) == ["beta"])
        #expect(throws: InputError("unknown preset 'ppo'; presets are deepseekmath, trl, dapo, dr_grpo, gspo, cispo, sapo, luspo, vespo")) {
            try ExplainCommand.parse(["b.json", "--preset", "ppo"])
        }
        #expect(throws: InputError("--set takes key=value (e.g. --set beta=0), not 'beta'")) {
            try ExplainCommand.parse(["b.json", "--set", "beta"])
        }
        #expect(try ExplainCommand.parse(["b.json", "--check"]).check)
        #expect(try ExplainCommand.parse(["b.json", "--naive"]).forceNaive)
        let help = ExplainCommand.run(["b.json", "--help"])
        #expect(help.status == 0 && help.errors.isEmpty && help.output.contains("--preset <name>"))
        // --flag=value and --flag value alike (grpo-bench's --only=naive was taken, explain's --preset=trl refused).
        #expect(try ExplainCommand.parse(["b.json", "--preset=trl", "--set=beta=0.1"])
                == ExplainCommand.parse(["b.json", "--preset", "trl", "--set", "beta=0.1"]))
        #expect(throws: InputError("unknown option '--presett'. Did you mean '--preset'? \(ExplainCommand.usage)")) {
            try ExplainCommand.parse(["b.json", "--presett", "trl"])
        }
        #expect(ExplainCommand.unknownOptionHint("kl_coef") == "the KL weight is 'beta'")
        #expect(ExplainCommand.unknownOptionHint("BETA") == "did you mean 'beta'?")
        #expect(ExplainCommand.unknownOptionHint("lr") == nil, "learning_rate is a training setting, not in a batch file")
        #expect(ExplainCommand.unknownOptionHint("beta") == nil)
        #expect(throws: InputError.self) { try ExplainCommand.parse([]) }
        #expect(throws: InputError.self) { try ExplainCommand.parse(["a.json", "b.json"]) }
    }

    /// Two completions of one token each, on-policy, beta 0, scale_rewards none: A = r - mean =
    /// +0.5, -0.5; every ratio is 1, so nothing is clipped and the grpo loss is
    /// -(1/2)(0.5 * 1 + (-0.5) * 1) = 0.
    let loggedBatch = #"{"config": {"beta": 0, "scale_rewards": "none"}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-0.5]}, {"logp": [-2]}]}], "logged": LOGGED}"#

    func withLogged(_ logged: String) -> String { loggedBatch.replacingOccurrences(of: "LOGGED", with: logged) }

    @Test("logged numbers: read in file order, compared with ours, bad keys named")
    func logged() throws {
        let c = try contents(withLogged(#"{"source": "TRL 1.16.0, step 1", "loss": 1e-9, "clip_ratio/region_mean": 0.25, "kl": 0}"#))
        let logged = try #require(c.logged)
        #expect(logged.source == "TRL 1.16.0, step 1")
        #expect(logged.entries.map(\.name) == ["loss", "clip_ratio/region_mean", "kl"])
        let b = try Vectorized.breakdown(c.batch, config: c.config)
        #expect(b.loss == 0 && b.metrics.clipRatioRegion == 0 && b.metrics.kl == nil)
        let lines = logged.lines(b)
        #expect(lines[0] == "logged by TRL 1.16.0, step 1 vs ours")
        // loss: |1e-9 - 0| is within the 1e-8 floor; region: 0.25 vs 0 differs; kl: we have none (beta 0, no ref_logp).
        #expect(lines.contains { $0.hasPrefix("loss") && !$0.contains("DIFFERS") })
        #expect(lines.contains { $0.hasPrefix("clip_ratio/region_mean") && $0.contains("DIFFERS") })
        #expect(lines.contains { $0.hasPrefix("kl") && $0.contains("not in this batch") })
        #expect(lines.last == "clip_ratio/region_mean differs: check that the file's config has every option the run used; "
                + "this batch has no kl (no ref_logp, entropy or rewards for it)")
        let json = logged.json(OurNumbers.trl(b)).rendered(pretty: false)
        #expect(json.contains(#""loss":{"logged":1e-09,"ours":0,"difference":1e-09,"agrees":true}"#))

        let scaled = try #require(try contents(withLogged(#"{"loss": 0.5}"#)).logged)
        #expect(scaled.lines(b).last?.hasSuffix("and that the logged loss is this batch's own (TRL scales it for gradient accumulation; lesson 13)") == true)
        let agreeing = try contents(withLogged(#"{"loss": 0, "clip_ratio/low_mean": 0}"#))
        #expect(agreeing.logged!.lines(b).last == "every logged number we have agrees with ours (to 1e-5 relative, the precision of float32 logs, or to the digits logged)")

        // Keys we do not compute (a whole log line pasted in) are listed, not compared.
        let pasted = try #require(try contents(withLogged(#"{"los": 1, "reward": 0.5, "loss": 0}"#)).logged)
        #expect(pasted.ignored == ["los", "reward"] && pasted.entries.map(\.name) == ["loss"])
        #expect(pasted.lines(b).last == "not compared (we do not compute them): los, reward")
        let empty = try #require(try contents(withLogged(#"{"source": "x"}"#)).logged)
        #expect(empty.lines(b) == ["logged by x vs ours: nothing to compare; logged numbers we compute are loss, "
                                   + Metrics.names.map(\.name).joined(separator: ", ")])
        #expect(message(withLogged(#"{"loss": "one"}"#)) == "b.json: logged.loss: expected a number or its text, found 'one'")
        #expect(message(withLogged(#"[1]"#)) == "b.json: logged: expected an object or a console log line, found a list")
    }

    @Test("float32 logs agree within 1e-5 relative; a rounded log within half its last digit")
    func agreement() {
        #expect(LoggedNumbers.verdict(0.123456789, Double(Float(0.123456789))) == .agrees)
        #expect(LoggedNumbers.verdict(0, 5e-9) == .agrees && LoggedNumbers.verdict(0, 2e-8) == .differs)
        // A console's 4 digits: -0.08803 is -0.08802908274 rounded. |d| = 9.2e-7 is above 1e-5
        // relative (8.9e-7) but within half the last digit logged (0.5e-5).
        #expect(LoggedNumbers.verdict(-0.08803, -0.08802908274) == .agreesToDigits(4))
        #expect(LoggedNumbers.verdict(-0.088, -0.08802908274) == .agreesToDigits(2))
        #expect(LoggedNumbers.verdict(-0.089, -0.08802908274) == .differs)  // |d| 9.7e-4 > 5e-5
        // "-0.09" may be a log's "-0.0900": never more lenient than half of 1e-4.
        #expect(LoggedNumbers.verdict(-0.09, -0.08536813) == .differs && LoggedNumbers.verdict(0.01, 0.00675) == .differs)
        #expect(LoggedNumbers.verdict(0.1234, 0.1235) == .differs)           // |d| 1e-4 > 5e-5
        #expect(LoggedNumbers.verdict(1, 1.1) == .differs)                   // a whole number: no rounding assumed
        #expect(LoggedNumbers.verdict(0.5, nil) == .missing)
        #expect(LoggedNumbers.writtenPrecision(1.5e-05)! == (2, 1e-6))
        #expect(LoggedNumbers.writtenPrecision(-0.088)! == (2, 0.001))
        #expect(LoggedNumbers.writtenPrecision(100.25)! == (5, 0.01))
        #expect(LoggedNumbers.writtenPrecision(3) == nil)
    }
}

/// The batch files of `Tests/GRPOTests/Fixtures/trl_terms.json` (TRL 1.16's own numbers for
/// every newer term): read as `explain` reads a file, they give TRL's loss and gradient, so the
/// reader knows `truncated`, `mask`, `rewards_per_func`, null rewards and `reward_weights`.
@Suite("Batch files with every newer term")
struct BatchFileTermsTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../GRPOTests/Fixtures/trl_terms.json").standardizedFileURL

    @Test("each of TRL's cases reads back and explains to TRL's loss and gradient")
    func everyCase() throws {
        let text = try String(contentsOf: Self.fixture, encoding: .utf8)
        guard case .object(let top) = try JSONParser.parse(text), case .array(let cases)? = top["cases"] else {
            Issue.record("unexpected fixture shape")
            return
        }
        var read = 0
        for item in cases {
            guard case .object(let entry) = item, case .string(let name)? = entry["name"], let batchValue = entry["batch"],
                  case .object(let trl)? = entry["trl"], case .number(let loss)? = trl["loss"],
                  case .array(let gradRows)? = trl["grad_logp"] else { Issue.record("unexpected case shape"); continue }
            // TRL's VESPO loss here depends on how wide TRL padded the batch (tools/README.md).
            guard name != "artefact_vespo_is_ratio_padding_clip_min_1.2" else { continue }
            let contents = try BatchFile.decode(batchValue, name: name, base: GRPOConfig())
            try contents.batch.validate(for: contents.config)
            let b = try Vectorized.breakdown(contents.batch, config: contents.config)
            #expect(abs(b.loss - loss) <= 1e-9, "\(name): loss \(b.loss) vs TRL \(loss)")
            for (i, row) in gradRows.enumerated() {
                guard case .array(let values) = row else { continue }
                for (t, value) in values.enumerated() {
                    guard case .number(let g) = value else { continue }
                    #expect(abs(b.gradLogp[i, t] - g) <= 1e-9, "\(name): grad [\(i), \(t)]")
                }
            }
            // Written back and read again, the batch is the same.
            let again = try BatchFile.decode(BatchFile.encode(contents.batch, config: contents.config), name: name, base: GRPOConfig())
            #expect(again.batch == contents.batch && again.config == contents.config, "\(name): encode and decode")
            read += 1
        }
        #expect(read >= 70)
    }
}
