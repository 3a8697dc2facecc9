import GRPO

/// Small fixed batches to look at without sampling anything.
public enum ExampleBatches {
    /// The inputs of the golden values computed by TRL 1.16 and verl 0.9.1 (the test fixture
    /// `golden_values.json`): 2 prompts x G = 3, rewards [1, 0, 0.5 | 0, 0, 0], lengths
    /// [3, 2, 4 | 1, 2, 3]. TRL's `grpo` loss on it is 0.163526565225 (epsilon 0.2,
    /// epsilon_high 0.28, beta 0). Its logp of 0.5 at group 0, completion 1, token 1 is not a
    /// valid log-probability; it is kept so the numbers match the libraries'.
    public static let trl = Batch(groups: [
        Group(completions: [
            Completion(reward: 1, logp: [-0.2, -1.3, -0.25], oldLogp: [-0.5, -1.2, -0.3], refLogp: [-0.6, -1.0, -0.3], entropy: [2.0, 0.5, 1.0]),
            Completion(reward: 0, logp: [-2.3, 0.5], oldLogp: [-2.0, -0.7], refLogp: [-2.3, -0.8], entropy: [0.1, 3.0]),
            Completion(reward: 0.5, logp: [0.0, -0.7, -1.55, -0.15], oldLogp: [-0.1, -0.9, -1.5, -0.4],
                       refLogp: [0.0, -1.3, -1.7, -0.1], entropy: [1.5, 0.2, 0.8, 2.5]),
        ]),
        Group(completions: [
            Completion(reward: 0, logp: [-0.6], oldLogp: [-1.0], refLogp: [-1.05], entropy: [0.3]),
            Completion(reward: 0, logp: [-0.8, -0.7], oldLogp: [-0.6, -0.8], refLogp: [-0.6, -0.65], entropy: [1.1, 0.05]),
            Completion(reward: 0, logp: [-0.2, -0.15, -0.65], oldLogp: [-0.2, -0.3, -0.4], refLogp: [-0.4, -0.4, -0.3], entropy: [0.7, 1.9, 0.4]),
        ]),
    ])

    /// The same batch with the out-of-range log-prob replaced by -0.3 (ratio exp(0.4) = 1.49 on
    /// a negative advantage: far outside the clip range, on the side that keeps its gradient).
    public static let standard: Batch = {
        var b = trl
        b.groups[0].completions[1].logp[1] = -0.3
        return b
    }()

    public static let names = ["standard", "trl"]

    public static func named(_ name: String) -> Batch? {
        switch name {
        case "standard": standard
        case "trl": trl
        default: nil
        }
    }
}
