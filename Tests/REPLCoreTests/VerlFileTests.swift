import Foundation
import GRPO
import Testing
@testable import REPLCore

/// Batch files with a `"verl"` object: verl 0.9.1's option names, verl's loss and metric names.
@Suite("verl batch files")
struct VerlFileTests {
    /// One group of two: rewards [1, 0], so A = +-0.5 / (0.70711 + 1e-6) = +-0.7071058 (verl's grpo,
    /// unbiased std). seq-mean-token-mean, k3 KL coefficient 0.5.
    ///   row 0, A > 0: log r = 0.2, 0: r = 1.2214 (clipped at 1.2) and 1: L = -1.2 A, -A; mean -0.777817
    ///   row 1, A < 0: log r = -0.2: r = 0.81873 inside [0.8, 1.2]: L = 0.81873 * 0.70711 = 0.578929
    ///   pg_loss = (-0.777817 + 0.578929) / 2 = -0.0994436
    ///   k3 (d = ref - logp = 0.1, -0.2 | 0): 0.0051709, 0.0187308 | 0; kl_loss = (0.0119508 + 0) / 2 = 0.0059754
    ///   loss = pg_loss + 0.5 kl_loss = -0.0964558. verl 0.9.1's own numbers (verl_terms.json,
    ///   hand_vanilla_tiny_seq-mean-token-mean_k3) are in "logged".
    static let tiny = #"""
    {"verl": {"kl_loss_coef": 0.5, "kl_loss_type": "k3", "loss_agg_mode": "seq-mean-token-mean", "use_kl_loss": true},
     "groups": [{"rewards": [1.0, 0.0], "completions": [
        {"logp": [-0.5, -1.0], "old_logp": [-0.7, -1.0], "ref_logp": [-0.4, -1.2]},
        {"logp": [-0.3], "old_logp": [-0.1], "ref_logp": [-0.3]}]}],
     "logged": {"source": "verl 0.9.1 ppo_loss", "loss": -0.09645584735531182, "actor/pg_loss": -0.09944355623457696,
                "actor/pg_clipfrac": 0.3333333322222222, "actor/pg_clipfrac_lower": 0.0, "actor/kl_loss": 0.005975417758530289}}
    """#

    func explain(_ text: String, _ flags: [String] = []) -> ExplainCommand.Outcome {
        let directory = TemporaryDirectory("grpo-verl")
        defer { directory.remove() }
        return ExplainCommand.run([directory.write("v.json", text)] + flags)
    }

    @Test("explain computes verl's loss and metrics; --check agrees with what verl logged")
    func agrees() throws {
        let text = explain(Self.tiny, ["--check"])
        #expect(text.status == 0, "\(text.errors)")
        #expect(text.output.contains("loss = -0.09645584736"), "\(text.output)")
        #expect(text.output.contains("actor/pg_loss") && text.output.contains("actor/kl_loss"))
        #expect(text.output.contains("every logged number we have agrees"))
        let json = explain(Self.tiny, ["--json"])
        guard case .object(let doc) = try JSONParser.parse(json.output), case .object(let paths)? = doc["paths"],
              case .object(let naive)? = paths["naive"], case .object(let metrics)? = naive["metrics"],
              case .object(let verl)? = doc["verl"] else { Issue.record("no verl document: \(json.output.prefix(300))"); return }
        #expect(metrics["actor/pg_loss"] == .number(-0.09944355623457696) || {
            if case .number(let x)? = metrics["actor/pg_loss"] { return abs(x + 0.09944355623457696) < 1e-15 }
            return false
        }())
        #expect(verl["clip_ratio_c"] == .number(3) && verl["kl_loss_type"] == .string("k3"))
    }

    @Test("--check fails when a logged verl number differs; --set takes verl's names; --preset is refused")
    func setAndCheck() {
        let wrong = Self.tiny.replacingOccurrences(of: #""actor/pg_loss": -0.09944355623457696"#, with: #""actor/pg_loss": -0.1"#)
        #expect(explain(wrong, ["--check"]).status == 1)
        let dapo = explain(Self.tiny, ["--set", "clip_ratio_high=0.28", "--check"])
        #expect(dapo.status == 1 && dapo.output.contains("clip_ratio_high=0.28"), "\(dapo.errors)")
        #expect(explain(Self.tiny, ["--set", "beta=0"]).errors.first?.hasPrefix("error: --set beta=0: unknown verl option \"beta\"") == true)
        #expect(explain(Self.tiny, ["--preset", "trl"]).errors.first?.contains("verl's defaults") == true)
    }

    @Test("a verl object is checked as verl checks it, and what is not computed yet says so")
    func refusals() {
        func error(_ verl: String) -> String? {
            explain(#"{"verl": {"# + verl + #"}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-1]}, {"logp": [-2]}]}]}"#).errors.first
        }
        #expect(error(#""loss_agg_mode": "seq-sum""#)?.hasSuffix("verl: Invalid loss_agg_mode: seq-sum") == true)
        #expect(error(#""clip_ratio_c": 1.0"#)?.contains("clip_ratio_c must be > 1") == true)
        #expect(error(#""kl_loss_type": "k4""#)?.contains("kl_loss_type must be one of kl, k1, abs, mse, k2, low_var_kl, k3") == true)
        #expect(error(#""lr": 1"#)?.contains(#"unknown verl option "lr"; a "verl" object takes loss_mode"#) == true)
        #expect(error(#""adv_estimator": "ppo""#)?.contains("adv_estimator must be one of verl's gae, grpo") == true)
        // A = +-0.7071 and logp -1, -2 (mean -1.5): both covariances are 0.7071 * 0.5, a tie torch.topk breaks its own way.
        #expect(error(#""loss_mode": "kl_cov""#)?.contains("kl_cov's choice among equal covariances (torch.topk picks 1 of 2 tokens") == true)
        #expect(error(#""loss_mode": "kl_cov""#)?.contains("grpo-swift does not compute it") == true)
        #expect(error(#""loss_mode": "kl_cov", "kl_cov_ratio": 1.0"#) == nil)  // both tokens: no choice to make
        #expect(error(#""loss_mode": "kl_cov", "kl_cov_ratio": 1.5"#)?.contains("at most 1") == true)
        let both = explain(#"{"config": {}, "verl": {}, "groups": []}"#).errors.first
        #expect(both == #"error: "# + explainPath(both) + #": give "config" (TRL's option names) or "verl" (verl's), not both"#)
    }

    /// The temporary file's path as an error message names it.
    func explainPath(_ message: String?) -> String {
        guard let message, let end = message.range(of: ": give") else { return "" }
        return String(message[message.index(message.startIndex, offsetBy: 7)..<end.lowerBound])
    }

    @Test("a completion without loss tokens under seq-mean-token-mean (weight 1 / (B 1e-8)) does not make the paths 'disagree'")
    func emptyRowWeight() {
        let text = #"""
        {"verl": {"loss_agg_mode": "seq-mean-token-mean", "adv_estimator": "rloo"},
         "groups": [{"rewards": [1, 0, 0.5], "completions": [{"logp": [-0.5, -1], "old_logp": [-0.7, -1]},
                     {"logp": [-0.3], "old_logp": [-0.1], "mask": [0]}, {"logp": [-2], "old_logp": [-2.2]}]}]}
        """#
        let outcome = explain(text, ["--check"])
        #expect(outcome.status == 0 && outcome.output.contains("(they agree)"), "\(outcome.errors) \(outcome.output.suffix(300))")
    }

    @Test("in the REPL, 'verl' after explaining a verl file keeps the file's options; kl_loss as ppo_loss names it is compared")
    func replKeepsTheFile() {
        let directory = TemporaryDirectory("grpo-verl")
        defer { directory.remove() }
        let file = directory.write("v.json", Self.tiny.replacingOccurrences(of: #""actor/kl_loss""#, with: #""kl_loss""#))
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let explained = interpreter.execute("explain \(file)")
        #expect(!explained.isError && explained.lines.contains { $0.hasPrefix("kl_loss ") && $0.contains("0.005975417759") }, "\(explained.lines)")
        #expect(!explained.lines.contains { $0.contains("not compared") }, "\(explained.lines)")
        let verl = interpreter.execute("verl")
        #expect(verl.lines.contains { $0.contains("the file's options") }, "\(verl.lines)")
        #expect(verl.lines.contains { $0.hasPrefix("seq-mean-token-mean") && $0.contains("-0.09645584736") }, "\(verl.lines)")
        let advantages = interpreter.execute("advantages")
        #expect(advantages.lines.contains { $0.hasPrefix("A_i by verl's grpo estimator") }, "\(advantages.lines)")
        _ = interpreter.execute("example")
        #expect(interpreter.session.verlFile == nil, "a new batch forgets the file's verl options")
    }

    @Test("groups of unequal size (verl's uids): warnings name the right group and completion")
    func unequalGroupsInWarnings() {
        // Groups of 2 and 3: row 4 is group 1, completion 2 (row / 2 would say group 2).
        let text = #"""
        {"config": {"beta": 0},
         "groups": [{"advantages": [0.5, -0.5], "completions": [{"logp": [-0.5]}, {"logp": [-1]}]},
                    {"advantages": [1, 0, -1], "completions": [{"logp": [-0.2]}, {"logp": [-1]}, {"logp": [-0.1], "old_logp": [-1000]}]}]}
        """#
        let outcome = explain(text)
        #expect(outcome.errors.contains { $0.contains("group 1, completion 2, token 0 has L_t = inf") }, "\(outcome.errors)")
        #expect(outcome.output.contains("2 group(s) of 2, 3"), "\(outcome.output.prefix(200))")
    }
}

@Suite("A console log line as transformers prints it")
struct ConsoleLogLineTests {
    /// One group, rewards 1 and 0, one token each with entropy 3.68312: the entropy metric is
    /// 3.68312, which transformers' console shows as '3.683' (`%.4g`).
    static let batch = #"""
    {"config": {"beta": 0}, "groups": [{"rewards": [1, 0], "completions": [
        {"logp": [-1.0], "entropy": [3.68312]}, {"logp": [-2.0], "entropy": [3.68312]}]}]}
    """#

    func explain(_ flags: [String]) -> ExplainCommand.Outcome {
        let directory = TemporaryDirectory("grpo-console")
        defer { directory.remove() }
        return ExplainCommand.run([directory.write("b.json", Self.batch), "--check"] + flags)
    }

    @Test("agreement is judged by the 4 significant digits %.4g printed; other keys are named, not compared")
    func fourDigits() {
        // |3.683 - 3.68312| = 1.2e-4, within half of 0.001; 3.684 is 8.8e-4 away, beyond it.
        let agrees = explain(["--logged", "{'loss': '0', 'entropy': '3.683', 'grad_norm': '0.5432', 'epoch': '0.01'}"])
        #expect(agrees.status == 0, "\(agrees.output)")
        #expect(agrees.output.contains("(to the 4 digits logged)"))
        #expect(agrees.output.contains("not compared (we do not compute them): grad_norm, epoch"))
        let differs = explain(["--logged", "{'loss': '0', 'entropy': '3.684'}"])
        #expect(differs.status == 1 && differs.output.contains("DIFFERS"))
    }

    @Test("the file's logged may be the line itself; a malformed line is one error naming the column")
    func inTheFile() throws {
        let directory = TemporaryDirectory("grpo-console")
        defer { directory.remove() }
        let text = Self.batch.replacingOccurrences(of: #""config": {"beta": 0},"#,
                                                   with: #""config": {"beta": 0}, "logged": "{'entropy': '3.683', 'loss': 0.0}","#)
        #expect(ExplainCommand.run([directory.write("b.json", text), "--check"]).status == 0)
        let broken = explain(["--logged", "{'loss' '0'}"])
        #expect(broken.status == 2 && broken.errors == ["error: --logged: expected ':' after 'loss' at column 9"], "\(broken.errors)")
        #expect(try ConsoleLogLine.pairs("{'a': '1e-06', 'b': 3, 'c': nan, 'd': True}", at: "x").map(\.key) == ["a", "b", "c", "d"])
        #expect(ConsoleLogLine.number("nan")!.isNaN && ConsoleLogLine.number("-inf") == -.infinity && ConsoleLogLine.number("1e-06") == 1e-6)
    }
}
