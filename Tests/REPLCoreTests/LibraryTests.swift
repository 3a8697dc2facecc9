import GRPO
import Testing
@testable import REPLCore

/// `set library verl`: verl's option and metric names for the session, and verl's actor loss.
@Suite("library verl in the REPL")
struct LibraryTests {
    func interpreter(_ lines: [String]) -> Interpreter {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        for line in lines { #expect(!interpreter.execute(line).isError, "\(line): \(interpreter.execute(line).lines)") }
        return interpreter
    }

    func reply(_ interpreter: Interpreter, _ line: String) -> [String] { interpreter.execute(line).lines }

    @Test("a verl batch file's options become the session's, and metrics speak verl's names with verl's own numbers")
    func verlFile() {
        let repl = interpreter(["explain lessons/data/13-verl-batch.json", "set library verl"])
        #expect(reply(repl, "config kl_loss_type").first?.hasPrefix("kl_loss_type = k3 ") == true)
        // verl's ppo_loss logged pg_loss -0.0994436 and loss -0.0964558 for this file (lesson 13).
        let metrics = reply(repl, "metrics")
        #expect(metrics.contains { $0.hasPrefix("actor/pg_loss") && $0.hasSuffix("-0.09944") }, "\(metrics)")
        #expect(metrics.contains("loss = -0.09645584736"), "\(metrics)")
    }

    @Test("TRL's words hold the same loss when verl's options need no step on the batch")
    func sameLossBothWords() throws {
        let repl = interpreter(["example", "set library verl", "set clip_ratio_high 0.28", "set loss_agg_mode token-mean"])
        let verl = try repl.session.breakdown().loss
        // Under verl: verl's grpo advantages (VerlAdvantages); under TRL: the group-relative step
        // of the neutral options (Naive.advantages) with the same conventions.
        #expect(reply(repl, "set library trl").first == "library: verl -> trl")
        let trl = try repl.session.breakdown().loss
        #expect(abs(verl - trl) <= 1e-12 * max(1, abs(verl)), "\(verl) vs \(trl)")
        #expect(verl != 0)
    }

    @Test("TRL's names are refused with verl's; an invalid verl value changes nothing")
    func refusals() {
        let repl = interpreter(["example", "set library verl"])
        let beta = repl.execute("set beta 0")
        #expect(beta.isError && beta.lines.first?.contains("verl's is 'kl_loss_coef', with 'use_kl_loss true'") == true, "\(beta.lines)")
        let dual = repl.execute("set clip_ratio_c 0.5")
        #expect(dual.isError && dual.lines.first?.contains("clip_ratio_c must be > 1") == true, "\(dual.lines)")
        #expect(reply(repl, "config clip_ratio_c").first?.hasPrefix("clip_ratio_c = 3 ") == true)
        #expect(repl.execute("set library pytorch").lines.first == "error: library must be one of trl, verl, not 'pytorch'")
    }

    @Test("training refuses what verl does to the batch before its loss, and runs the loss terms alone")
    func training() {
        let repl = interpreter(["set library verl", "set loss_mode kl_cov"])
        let refused = repl.execute("train 1")
        #expect(refused.isError && refused.lines.first?.contains("not loss_mode kl_cov") == true, "\(refused.lines)")
        #expect(!repl.execute("set loss_mode vanilla").isError)
        #expect(!repl.execute("train 1").isError)
        #expect(repl.session.trainer.stepCount == 1)
        #expect(repl.session.trainer.lossConfig.deltaForm == .dualClip)  // verl's conventions reach the trainer
    }

    @Test("verl's options survive a round trip through TRL's words; a preset goes back to TRL's")
    func roundTrip() {
        let repl = interpreter(["example", "set library verl", "set loss_mode kl_cov", "set kl_cov_ratio 0.3", "set library trl"])
        #expect(reply(repl, "set library trl").first == "library = trl (unchanged)")
        #expect(!repl.execute("set library verl").isError)
        #expect(reply(repl, "config loss_mode").first?.hasPrefix("loss_mode = kl_cov ") == true)
        let preset = reply(repl, "preset dapo")
        #expect(preset.last?.hasPrefix("library trl: a preset sets TRL's options") == true, "\(preset)")
        #expect(repl.session.library == .trl)
    }

    @Test("the verl command lists every loss_mode, saying why one cannot run")
    func verlCommand() {
        let lines = reply(interpreter(["example", "set library verl"]), "verl")
        for mode in VerlOptions.LossMode.allCases {
            #expect(lines.contains { $0.hasPrefix(mode.rawValue + " ") }, "\(mode.rawValue)")
        }
        #expect(lines.contains { $0.hasPrefix("  dro: policy_loss.dro_beta must be a positive value") })
        #expect(lines.contains { $0.hasPrefix("  bypass_mode: bypass_mode takes old_logp from the rollout engine") })
    }
}
