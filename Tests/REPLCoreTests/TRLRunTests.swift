import GRPO
import Testing
@testable import REPLCore

/// Golden values from a real TRL run: `examples/trl-run/` holds thirty-two `_compute_loss` calls of
/// TRL 1.16.0's `GRPOTrainer.train()` on a tiny model (made by `tools/trl_run_dump.py`), each with
/// the loss and metrics TRL logged for it: twenty-eight whole steps (fourteen runs of two steps), and
/// four calls of a run with gradient accumulation, whose loss is TRL's returned loss times lesson
/// 12's `trl_loss_factor`. Both of our paths must reproduce every logged number from the same
/// per-token inputs, to TRL's float32 rounding.
@Suite("Batches from a real TRL run")
struct TRLRunTests {
    static let files = ProjectFiles.list("examples/trl-run", root: ProjectFiles.root).filter { $0.hasSuffix(".json") }

    /// The runs of one call per step (files `RUN-step1.json` and `RUN-step2.json`).
    static let stepRuns = [
        "grpo-beta0.04", "dapo-beta0-epsilon_high0.28", "dr_grpo", "gspo", "top_entropy_quantile0.5",
        "cispo", "cispo-epsilon_high5", "sapo", "vespo", "luspo", "entropy_coef0.01-mask_truncated_completions",
        "off_policy_mask_threshold0.1", "reward_weights", "reward_weights-normalize_then_sum",
    ]

    @Test("thirty-two calls: fourteen runs of two steps (grpo with KL, dapo, dr_grpo, GSPO, entropy mask, cispo at both caps, sapo, vespo, luspo, entropy bonus with truncated completions masked, off-policy mask, two reward functions twice); dapo with accumulation, four calls")
    func coverage() {
        #expect(Self.files.count == 32, "found \(Self.files)")
        for run in Self.stepRuns {
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
        // What TRL's _compute_loss logs for these options (the script leaves out low_min and high_max)
        let clip = ["clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"]
        var expected = ["loss", "entropy"] + (contents.config.beta != 0 ? ["kl"] : [])
            + (contents.config.hasEntropyBonus ? ["policy_loss", "entropy_coef"] : [])
        switch contents.config.lossType {
        case .cispo: expected.append("cispo_clip_ratio")
        case .vespo: expected.append("vespo/phi_seq_mean")
        case .sapo: break
        case .grpo, .bnpo, .dapo, .drGRPO, .luspo: expected += clip
        }
        #expect(Set(logged.entries.map(\.name)) == Set(expected), "\(file): logged \(logged.entries.map(\.name))")
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
