/// Which loss path computes the Breakdown (and so d loss / d logp) that drives training. Lesson 12.
public enum LossPath: String, Sendable, Codable, CaseIterable {
    /// Loops and scalar autodiff: the specification, slow on purpose.
    case naive
    /// Flat arrays, the gradient written by hand: fast (the default).
    case vectorized
}

/// Where a batch's old_logp comes from when the sampler is not pi_theta itself (stale weights,
/// another precision or temperature): the two conventions the libraries take. Lesson 16.
public enum OldLogpSource: String, Sendable, Codable, CaseIterable {
    /// The trainer rescores the completions with its own theta when the batch arrives (TRL's
    /// `GRPOTrainer` with vLLM): the ratio to theta_old starts at exactly 1 whatever the lag, and
    /// only the sampler correction (`vllm_importance_sampling_*`) sees the sampler's log-probs.
    case trainer
    /// old_logp are the sampler's own log-probs (TRL's experimental `AsyncGRPOTrainer`,
    /// PipelineRL, verl's `bypass_mode`): the ratio and its clip are taken against the policy that
    /// really sampled each token, and the batch carries no separate sampler_logp.
    case sampler
}

/// How a training run is set up, next to the `GRPOConfig` of the loss. Names are TRL's
/// (`num_generations`, `num_iterations`, `learning_rate`, `temperature`, `max_completion_length`)
/// where TRL has one. Encoded with those names. `options` is the table `set key=value` reads.
public struct TrainingSettings: Sendable, Equatable, Codable {
    /// The task's name (`TaskCatalog`).
    public var task = "copy"
    /// G: completions sampled per prompt (TRL `num_generations`). Lesson 02.
    public var numGenerations = 8
    /// Prompts per iteration, each sampled G times: B = prompts * G completions per batch.
    public var promptsPerIteration = 4
    /// mu: inner updates on each batch (TRL `num_iterations`). mu = 1 is on-policy: the ratio is
    /// exactly 1. Lesson 03.
    public var numIterations = 1
    /// The optimizer's step size (TRL `learning_rate`).
    public var learningRate = 0.05
    public var optimizer = OptimizerKind.adam
    /// T: logits are divided by T, when sampling and when scoring for the loss (TRL `temperature`).
    public var temperature = 1.0
    /// The longest completion; also the divisor L of `dr_grpo` (TRL `max_completion_length`).
    /// Sets the policy's number of positions, so changing it starts a new run.
    public var maxCompletionLength = 8
    /// Which loss path drives training.
    public var path = LossPath.vectorized
    /// Also run the other path on every step and record the largest difference. Lesson 12.
    public var crossCheck = false
    /// The sampler's logit precision: anything but `exact` makes the sampler differ from pi_old.
    /// Lesson 09.
    public var samplerPrecision = SamplerPrecision.exact
    /// A sampler temperature other than `temperature` (`nil`: the same). Lesson 09.
    public var samplerTemperature: Double? = nil
    /// k: the sampler's weights are theta from k optimizer updates ago, as in asynchronous RL
    /// (PipelineRL and the like: rollouts generated while the trainer keeps stepping). 0: the
    /// sampler is pi_old itself. Saved only when set (older session files have none).
    public var maxStaleness: Int {
        get { staleness ?? 0 }
        set { staleness = newValue == 0 ? nil : newValue }
    }
    var staleness: Int? = nil
    /// In-flight weight updates (PipelineRL's): with `maxStaleness` k, the sampler takes the next
    /// newer theta every N tokens it samples, so one completion's tokens may come from several
    /// versions; 0: the sampler keeps its weights for the whole rollout. Saved only when set.
    public var weightUpdateInterval: Int {
        get { updateInterval ?? 0 }
        set { updateInterval = newValue == 0 ? nil : newValue }
    }
    var updateInterval: Int? = nil
    /// Where old_logp comes from when the sampler differs from pi_theta. Saved only when set.
    public var oldLogpSource: OldLogpSource {
        get { logpSource ?? .trainer }
        set { logpSource = newValue == .trainer ? nil : newValue }
    }
    var logpSource: OldLogpSource? = nil
    /// Seeds the run: initial prompts, samples, everything.
    public var seed: UInt64 = 0

    public init() {}

    /// True when completions come from a sampler that is not exactly pi_old (another precision or
    /// temperature, or stale weights), and so carry `sampler_logp`.
    public var hasSamplerMismatch: Bool { samplerPrecision != .exact || samplerTemperature != nil || maxStaleness > 0 }

    enum CodingKeys: String, CodingKey {
        case task
        case numGenerations = "num_generations"
        case promptsPerIteration = "prompts_per_iteration"
        case numIterations = "num_iterations"
        case learningRate = "learning_rate"
        case optimizer
        case temperature
        case maxCompletionLength = "max_completion_length"
        case path
        case crossCheck = "cross_check"
        case samplerPrecision = "sampler_precision"
        case samplerTemperature = "sampler_temperature"
        case staleness = "max_staleness"
        case updateInterval = "weight_update_interval"
        case logpSource = "old_logp_source"
        case seed
    }
}
