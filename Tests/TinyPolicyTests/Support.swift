import GRPO
import Testing
@testable import TinyPolicy

/// |a - b| within `relative` of the larger magnitude, or within `absolute`.
func close(_ a: Double, _ b: Double, relative: Double, absolute: Double) -> Bool {
    abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
}

/// A policy with every parameter drawn from N(0, scale^2).
func randomPolicy(_ shape: Policy, scale: Double, _ rng: inout SeededGenerator) -> Policy {
    var p = shape
    for k in p.parameters.indices { p.parameters[k] = scale * rng.normal() }
    return p
}

/// `base` plus N(0, scale^2) noise on every parameter.
func perturbed(_ base: Policy, scale: Double, _ rng: inout SeededGenerator) -> Policy {
    var p = base
    for k in p.parameters.indices { p.parameters[k] += scale * rng.normal() }
    return p
}

/// Fixed data for a gradient check: completions sampled from theta_old, with their rewards and the
/// old, reference and sampler log-probabilities, as a trainer's rollout holds them.
struct CheckData {
    var prompts: [Int]          // per group
    var groupSize: Int
    var completions: [[Int]]    // group after group
    var rewards: [Double]
    var oldLogp: [[Double]]
    var refLogp: [[Double]]
    var samplerLogp: [[Double]]?
    var temperature: Double

    var owners: [Int] { prompts.flatMap { [Int](repeating: $0, count: groupSize) } }

    init(task: any RewardTask, old: Policy, ref: Policy, prompts: [Int], groupSize: Int, maxLength: Int,
         temperature: Double, samplerTemperature: Double?, _ rng: inout SeededGenerator) {
        self.prompts = prompts
        self.groupSize = groupSize
        self.temperature = temperature
        var completions: [[Int]] = [], rewards: [Double] = [], sampler: [[Double]] = []
        for q in prompts {
            for _ in 0..<groupSize {
                let s = old.sample(prompt: q, endToken: task.endToken, maxLength: maxLength,
                                   temperature: samplerTemperature ?? temperature, using: &rng)
                completions.append(s.tokens)
                sampler.append(s.samplerLogp)
                rewards.append(task.reward(prompt: q, completion: s.tokens))
            }
        }
        self.completions = completions
        self.rewards = rewards
        samplerLogp = samplerTemperature == nil ? nil : sampler
        let owners = prompts.flatMap { [Int](repeating: $0, count: groupSize) }
        let o = old.evaluate(prompts: owners, completions: completions, temperature: temperature)
        let r = ref.evaluate(prompts: owners, completions: completions, temperature: temperature)
        oldLogp = o.rows(o.logp)
        refLogp = r.rows(r.logp)
    }

    /// The batch with logp from `policy`; entropies from `entropyPolicy` (held fixed in a
    /// finite-difference check: the loss treats them as constants, as TRL detaches them).
    func batch(_ policy: Policy, entropyPolicy: Policy, reference: Bool = true) -> Batch {
        let e = policy.evaluate(prompts: owners, completions: completions, temperature: temperature)
        let h = entropyPolicy.evaluate(prompts: owners, completions: completions, temperature: temperature)
        let logp = e.rows(e.logp), entropy = h.rows(h.entropy)
        var groups: [Group] = []
        for k in prompts.indices {
            let rows = (k * groupSize)..<((k + 1) * groupSize)
            groups.append(Group(completions: rows.map { i in
                Completion(reward: rewards[i], logp: logp[i], oldLogp: oldLogp[i], refLogp: reference ? refLogp[i] : nil,
                           entropy: entropy[i], samplerLogp: samplerLogp?[i])
            }))
        }
        return Batch(groups: groups)
    }
}

func breakdown(_ batch: Batch, _ config: GRPOConfig, _ path: LossPath) throws -> Breakdown {
    switch path {
    case .naive: try Naive.breakdown(batch, config: config)
    case .vectorized: try Vectorized.breakdown(batch, config: config)
    }
}

/// A trainer for tests: default settings changed by `changes` ("key=value" for either table).
func makeTrainer(_ changes: String...) throws -> Trainer {
    var trainer = try Trainer()
    for change in changes {
        let parts = change.split(separator: "=", maxSplits: 1).map(String.init)
        try trainer.set(parts[0], to: parts[1])
    }
    return trainer
}
