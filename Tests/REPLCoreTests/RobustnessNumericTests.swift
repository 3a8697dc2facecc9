import GRPO
import Testing
@testable import REPLCore

/// Numeric extremes inside valid input: what the math says, and never a silent NaN: whenever a
/// NaN or inf reaches the loss, an advantage or a gradient, `NonFinite.warnings` (printed by
/// `explain`, `loss`, `grad`) names it.
@Suite("Robustness: numeric extremes")
struct RobustnessNumericTests {
    static func batch(_ rewards: [Double], _ logp: [[Double]], old: [[Double]]? = nil, ref: [[Double]]? = nil) -> Batch {
        Batch(groups: [Group(completions: rewards.indices.map {
            Completion(reward: rewards[$0], logp: logp[$0], oldLogp: old?[$0], refLogp: ref?[$0])
        })])
    }

    static func config(_ edit: (inout GRPOConfig) -> Void = { _ in }) -> GRPOConfig {
        var c = GRPOConfig()
        c.beta = 0
        edit(&c)
        return c
    }

    /// Every number a breakdown holds that could be NaN or inf.
    static func nonFinite(_ b: Breakdown) -> [String] {
        var out: [String] = []
        if !b.loss.isFinite { out.append("loss") }
        if b.advantages.contains(where: { !$0.isFinite }) { out.append("advantages") }
        if b.perTokenLoss.values.contains(where: { !$0.isFinite }) { out.append("per-token loss") }
        if b.gradLogp.values.contains(where: { !$0.isFinite }) { out.append("gradient") }
        if b.groupMean.contains(where: { !$0.isFinite }) || b.groupStd.contains(where: { !$0.isFinite }) { out.append("group mean/std") }
        if b.metrics.named.contains(where: { !$0.value.isFinite }) { out.append("a metric") }
        return out
    }

    static let cases: [(name: String, batch: Batch, config: GRPOConfig)] = [
        ("log-ratio +1000 on the clipped side (A > 0)", batch([1, 0], [[-0.1], [-0.5]], old: [[-1000.1], [-0.5]]), config()),
        ("log-ratio +1000 on the unclipped side (A < 0): an honest inf", batch([1, 0], [[-0.5], [-0.1]], old: [[-0.5], [-1000.1]]), config()),
        ("log-ratio -1000 (ratio 0)", batch([1, 0], [[-1000.1], [-0.5]], old: [[-0.1], [-0.5]]), config()),
        ("log-ratio +1000, sequence level", batch([1, 0], [[-0.1, -0.1], [-0.5]], old: [[-1000.1, -1000.1], [-0.5]]),
         config { $0.importanceSamplingLevel = .sequence }),
        ("log-ratio +1000 with delta (two-sided clip)", batch([1, 0], [[-0.5], [-0.1]], old: [[-0.5], [-1000.1]]), config { $0.delta = 3 }),
        ("KL to a reference 1000 nats away", batch([1, 0], [[-1000], [-0.1]], ref: [[0], [-1000]]), config { $0.beta = 0.04 }),
        ("all-equal rewards", batch([1, 1, 1], [[-1], [-2], [-0.5]]), config()),
        ("G = 2 with identical rewards", batch([0, 0], [[-1], [-2]]), config()),
        ("all-empty completions, grpo", batch([1, 0], [[], []]), config()),
        ("all-empty completions, dapo", batch([1, 0], [[], []]), config { $0.lossType = .dapo }),
        ("all-empty completions, dr_grpo", batch([1, 0], [[], []]), config { $0.lossType = .drGRPO }),
        ("beta = 0 without ref_logp", batch([1, 0], [[-1], [-2]]), config()),
        ("rewards 1e308, 1e308, -1e308 (the sum overflows)", batch([1e308, 1e308, -1e308], [[-1], [-1], [-1]]), config()),
        ("rewards 1e308, -1e308 (the variance overflows)", batch([1e308, -1e308], [[-1], [-1]]), config()),
        ("subnormal rewards, std_epsilon 0", batch([5e-324, 0], [[-1], [-1]]), config { $0.stdEpsilon = 0 }),
        ("log-probabilities of -1e308", batch([1, 0], [[-1e308], [-1e308]], old: [[-1e308], [-1e308]]), config()),
    ]

    @Test("no trap, and every NaN or inf that reaches the loss, an advantage, a gradient or a metric gets a warning", arguments: cases.indices)
    func neverSilent(_ k: Int) throws {
        let (name, batch, config) = Self.cases[k]
        try batch.validate(for: config)
        for b in [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)] {
            let bad = Self.nonFinite(b)
            let warnings = NonFinite.warnings(b)
            #expect(bad.isEmpty == warnings.isEmpty, "\(name): non-finite \(bad), warnings \(warnings)")
            for w in warnings { #expect(w.hasPrefix("warning: ") && !w.contains("\n"), "\(w)") }
        }
    }

    @Test("what the math says where a double can hold it")
    func values() throws {
        func both(_ k: Int) throws -> [Breakdown] {
            let (_, batch, config) = Self.cases[k]
            return [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)]
        }
        // All-equal rewards and G = 2 with identical rewards: A = 0, nothing to learn, loss 0.
        for k in [6, 7] { for b in try both(k) { #expect(b.loss == 0 && b.advantages.allSatisfy { $0 == 0 } && b.gradLogp.values.allSatisfy { $0 == 0 }) } }
        // Empty completions carry no tokens: the loss is 0 under every loss type.
        for k in [8, 9, 10] { for b in try both(k) { #expect(b.loss == 0 && b.gradLogp.values.isEmpty) } }
        // The unclipped side with ratio e^1000 and A < 0: the loss really is +inf, and the warning names the token.
        for b in try both(1) {
            #expect(b.loss == .infinity)
            #expect(NonFinite.warnings(b).first?.hasPrefix("warning: the loss is inf: group 0, completion 1, token 0") == true)
        }
        // KL of a token 1000 nats from the reference: k3 = e^1000 - 1001 = inf, honestly.
        for b in try both(5) { #expect(b.loss == .infinity && b.kl?[0, 0] == .infinity) }
        // Ratio e^-1000 = 0: finite everywhere.
        for b in try both(2) { #expect(b.loss.isFinite && b.ratio[0, 0] == 0) }
    }

    @Test("warnings say what overflowed: the KL, or a sum of finite terms; both paths agree on an infinite gradient")
    func overflowWarnings() throws {
        var config = GRPOConfig()
        config.useBiasCorrectionKL = true
        // KL 800 nats away at ratio 1: L_t = inf, and d (k3 r) / d logp = inf - inf = NaN; both named.
        let far = Batch(groups: [Group(completions: [Completion(reward: 1, logp: [-1], refLogp: [-1]),
                                                     Completion(reward: 0, logp: [-800.1], refLogp: [-0.1])])])
        let warnings = NonFinite.warnings(try Vectorized.breakdown(far, config: config))
        #expect(warnings.count == 2 && warnings[0].hasSuffix("L_t = inf (ratio 1, A = -0.707, KL = inf)"), "\(warnings)")
        #expect(warnings[1].hasPrefix("warning: d loss / d logp is nan at group 0, completion 1, token 0"))
        // Ratio e^800 = inf with KL inf: the naive autodiff and the kernel both give +inf.
        let over = Batch(groups: [Group(completions: [Completion(reward: 1, logp: [-0.1], oldLogp: [-800.1], refLogp: [-800.1]),
                                                      Completion(reward: 0, logp: [-1], refLogp: [-1])])])
        let n = try Naive.breakdown(over, config: config), v = try Vectorized.breakdown(over, config: config)
        #expect(n.gradLogp[0, 0] == .infinity && v.gradLogp[0, 0] == .infinity)
        #expect(n.disagreement(with: v) == nil)
        var apart = v
        apart.loss = -v.loss
        #expect(n.disagreement(with: apart)?.quantity == "loss", "an infinite difference never agrees")
        // Advantages +-1e308 over two tokens each: every L_t is finite, their sum is not.
        config.beta = 0
        let huge = Batch(groups: [Group(completions: [Completion(reward: 0, logp: [-1, -1], advantage: 1e308),
                                                      Completion(reward: 0, logp: [-1, -1], advantage: -1e308)])])
        let h = try Vectorized.breakdown(huge, config: config)
        #expect(h.perTokenLoss.values.allSatisfy(\.isFinite) && !h.loss.isFinite)
        #expect(NonFinite.warnings(h) == ["warning: the loss is \(Fmt.num(h.loss)), though every L_t is finite: their weighted sum overflows a double"])
    }

    /// Where a double overflows on the way but the answer is representable: what the math says.
    @Test("extremes the math answers: no gradient through an overflowed clipped ratio, rewards near 1e308")
    func overflowedIntermediates() throws {
        func both(_ k: Int) throws -> [Breakdown] {
            let (_, batch, config) = Self.cases[k]
            return [try Naive.breakdown(batch, config: config), try Vectorized.breakdown(batch, config: config)]
        }
        // A clipped token with ratio e^1000 passes no gradient: 0, not inf * 0 = NaN.
        for b in try both(0) { #expect(b.gradLogp[0, 0] == 0) }
        // Rewards whose sum or squares overflow: mean and std are representable, so are the advantages.
        for a in try both(12).map(\.advantages) {
            #expect(abs(a[0] - 0.5773502691896258) < 1e-9 && abs(a[2] + 1.1547005383792517) < 1e-9, "\(a)")
        }
        for a in try both(13).map(\.advantages) {
            #expect(abs(a[0] - 0.7071067811865476) < 1e-9 && abs(a[1] + 0.7071067811865476) < 1e-9, "\(a)")
        }
    }

    @Test("the REPL prints the warning after 'loss', 'grad' and 'explain FILE'")
    func replWarns() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.write("b.json", #"{"config": {"beta": 0}, "groups": [{"rewards": [1, 0], "completions": [{"logp": [-0.5], "old_logp": [-0.5]}, {"logp": [-0.1], "old_logp": [-1000.1]}]}]}"#)
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        for line in ["explain \(file)", "loss", "grad"] {
            let reply = interpreter.execute(line)
            #expect(!reply.isError)
            #expect(reply.lines.contains { $0.hasPrefix("warning: the loss is inf: group 0, completion 1, token 0") }, "\(line): \(reply.lines.suffix(3))")
        }
    }
}
