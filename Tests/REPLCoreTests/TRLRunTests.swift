import GRPO
import Testing
@testable import REPLCore

/// Golden values from a real TRL run: `examples/trl-run/` holds fourteen `_compute_loss` calls of
/// TRL 1.16.0's `GRPOTrainer.train()` on a tiny model (made by `tools/trl_run_dump.py`), each with
/// the loss and metrics TRL logged for it: ten whole steps, and four calls of a run with gradient
/// accumulation, whose loss is TRL's returned loss times lesson 12's `trl_loss_factor`. Both of
/// our paths must reproduce every logged number from the same per-token inputs, to TRL's float32
/// rounding.
@Suite("Batches from a real TRL run")
struct TRLRunTests {
    static let files = ProjectFiles.list("examples/trl-run", root: ProjectFiles.root).filter { $0.hasSuffix(".json") }

    @Test("fourteen calls: grpo with KL, dapo, dr_grpo, GSPO, entropy mask, two steps each; dapo with accumulation, four calls")
    func coverage() {
        #expect(Self.files.count == 14, "found \(Self.files)")
        for run in ["grpo-beta0.04", "dapo-beta0-epsilon_high0.28", "dr_grpo", "gspo", "top_entropy_quantile0.5"] {
            #expect(Self.files.contains { $0.hasSuffix("\(run)-step2.json") }, "\(run)")
        }
        for call in 1...4 {
            #expect(Self.files.contains { $0.hasSuffix("dapo-accumulation-call\(call).json") }, "dapo-accumulation call \(call)")
        }
    }

    @Test("explain reproduces the loss and metrics TRL logged", arguments: files)
    func reproduces(file: String) throws {
        let request = ExplainCommand.Request(path: ProjectFiles.resolve("examples/trl-run/" + file, root: ProjectFiles.root))
        let contents = try ExplainCommand.load(request)
        let logged = try #require(contents.logged, "\(file) has its logged numbers")
        #expect(contents.batch.hasGivenAdvantages, "\(file) gives TRL's advantages")
        #expect(logged.entries.contains { $0.name == "loss" } && logged.entries.count >= 5)
        for b in [try Naive.breakdown(contents.batch, config: contents.config),
                  try Vectorized.breakdown(contents.batch, config: contents.config)] {
            for entry in logged.entries {
                let ours = try #require(LoggedNumbers.ours(entry.name, b), "\(file): \(entry.name)")
                // TRL computes log-probs, ratios and KL in float32: 7e-9 on the loss here.
                #expect(abs(ours - entry.value) <= 1e-8 + 1e-6 * abs(entry.value),
                        "\(file) \(entry.name): TRL \(entry.value), ours \(ours)")
            }
        }
    }

    @Test("explain --check passes on them, and fails (exit 1) when an option differs from the run's")
    func check() {
        let file = ProjectFiles.resolve("examples/trl-run/grpo-beta0.04-step2.json", root: ProjectFiles.root)
        #expect(ExplainCommand.run([file, "--check"]).status == 0)
        let changed = ExplainCommand.run([file, "--check", "--set", "beta=0"])
        #expect(changed.status == 1 && changed.errors.last == "check failed: a logged number differs from ours")
        let preset = ExplainCommand.run([file, "--preset", "trl"])
        #expect(preset.output.contains("config: preset trl + loss_type=grpo"))
    }
}
