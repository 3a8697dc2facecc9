import GRPO

/// The GRPO training loop on a tiny policy, in steps small enough to show one at a time.
///
/// One iteration (TRL: one generation batch):
///
///     theta_old <- theta                                     (snapshot: the sampler)
///     for each of `prompts_per_iteration` prompts q: sample G completions o_i ~ pi_old, score r_i
///     old_logp <- pi_old(o),  ref_logp <- pi_ref(o)          (once per iteration)
///     repeat mu times (`num_iterations`):
///         logp <- pi_theta(o)                                (recomputed every inner update)
///         loss, d loss / d logp <- GRPO loss (naive or vectorized path)
///         d loss / d theta <- Policy.gradient;  theta <- optimizer step
///
/// Three snapshots of the parameters, named as in the formula: `policy` (theta, trained),
/// `oldPolicy` (theta_old, which sampled the current batch and is frozen for its mu updates) and
/// `referencePolicy` (theta_ref, the anchor of the KL term: the initial policy unless
/// `resetReference()` is called).
///
/// Steps: `rollout()`, `buildBatch()`, `innerStep()`, `iteration()`, `train(iterations:...)`.
/// Every draw comes from `rng`, seeded by `settings.seed`, so a seed replays a run exactly; the
/// whole state (not the latest full trace) is `Codable` for saving a session as JSON.
/// Lessons 01-11 all run on it.
public struct Trainer: Sendable, Codable {
    public internal(set) var settings: TrainingSettings
    /// The loss options. Its `maxCompletionLength` always equals `settings.maxCompletionLength`
    /// (one `max_completion_length`, as in TRL): a different value assigned here is replaced.
    public var lossConfig: GRPOConfig {
        get { loss.config }
        set {
            var config = newValue
            config.maxCompletionLength = settings.maxCompletionLength
            // A new entropy_coef (or switching adaptive control) restarts the controller's
            // coefficient there; the entropy it last measured stays.
            if config.entropyCoef != loss.config.entropyCoef || config.useAdaptiveEntropy != loss.config.useAdaptiveEntropy {
                entropyControl.coefficient = config.entropyCoef
            }
            loss = LossConfigCoding(config)
        }
    }
    /// The entropy bonus's coefficient under `use_adaptive_entropy` (TRL's controller), updated
    /// after every inner update; it applies `entropy_coef` as set otherwise. Lesson 05.
    public internal(set) var entropyControl: AdaptiveEntropy
    private var loss: LossConfigCoding
    /// theta: the parameters being trained.
    public internal(set) var policy: Policy
    /// theta_old: the parameters that sampled the current rollout.
    public internal(set) var oldPolicy: Policy
    /// theta_ref: the reference of the KL term.
    public internal(set) var referencePolicy: Policy
    public internal(set) var optimizer: Optimizer
    public internal(set) var rng: SeededGenerator
    /// Rollouts made so far (iterations started).
    public internal(set) var iterationCount = 0
    /// Inner updates already made on the current rollout.
    public internal(set) var innerStepsDone = 0
    /// Inner updates made so far in the whole run.
    public internal(set) var stepCount = 0
    /// The current iteration's sampled data; `nil` before the first rollout.
    public internal(set) var currentRollout: Rollout?
    /// One summary per inner update, oldest first.
    public internal(set) var history: [StepSummary] = []
    /// theta before each of the last `max_staleness` updates, oldest first: the stale sampler's
    /// weights come from here (`samplerPolicy`).
    public internal(set) var recentPolicies: [Policy] = []
    /// The full trace of the last inner update (not saved with the session).
    public internal(set) var latest: StepTrace? = nil

    /// A new run: theta = theta_old = theta_ref = 0 (uniform), the optimizer's moments empty, the
    /// generator seeded with `settings.seed`. Throws if a setting is out of range.
    public init(settings: TrainingSettings = TrainingSettings(), lossConfig: GRPOConfig = GRPOConfig()) throws(ConfigError) {
        try settings.validate()
        try lossConfig.validate()
        let task = TaskCatalog.named(settings.task)!
        self.settings = settings
        var config = lossConfig
        config.maxCompletionLength = settings.maxCompletionLength
        loss = LossConfigCoding(config)
        entropyControl = AdaptiveEntropy(config: config)
        policy = Policy(vocabularySize: task.vocabularySize, promptCount: task.prompts.count,
                        maxLength: settings.maxCompletionLength)
        oldPolicy = policy
        referencePolicy = policy
        optimizer = Optimizer(kind: settings.optimizer, learningRate: settings.learningRate)
        rng = SeededGenerator(seed: settings.seed)
    }

    /// The task being trained on.
    public var task: any RewardTask { TaskCatalog.named(settings.task)! }

    /// True when the next inner update needs fresh samples: no rollout yet, or its mu updates are done.
    public var needsRollout: Bool { currentRollout == nil || innerStepsDone >= settings.numIterations }

    /// Sets a training setting (`TrainingSettings.options`) or a loss option (`GRPOConfig.options`)
    /// from text. `task`, `max_completion_length` and `seed` start a new run (same loss config);
    /// the others apply from the next rollout (sampling settings) or the next update (learning
    /// rate, optimizer, path, cross-check). A value equal to the current one changes nothing (a
    /// run goes on). On error nothing changes.
    public mutating func set(_ key: String, to value: String) throws(ConfigError) {
        if let option = TrainingSettings.option(named: key) {
            var changed = settings
            try changed.set(key, to: value)
            guard changed != settings else { return }
            if option.startsNewRun {
                self = try Trainer(settings: changed, lossConfig: lossConfig)
            } else {
                settings = changed
                optimizer.kind = changed.optimizer
                optimizer.learningRate = changed.learningRate
                recentPolicies = Array(recentPolicies.suffix(changed.maxStaleness))
            }
        } else if GRPOConfig.option(named: key) != nil {
            var config = lossConfig
            try config.set(key, to: value)
            lossConfig = config
        } else {
            let keys = TrainingSettings.options.map(\.key) + GRPOConfig.options.map(\.key)
            throw ConfigError("unknown setting '\(key)'; settings are: \(keys.joined(separator: ", "))")
        }
    }

    /// Keeps only the last `n` step summaries (a session file's bound); returns how many of the
    /// oldest were dropped. Each summary keeps its own `step` number, so what is left still says
    /// which steps it covers; the run itself (theta, moments, generator, counters) is untouched.
    @discardableResult
    public mutating func dropHistory(keepingLast n: Int) -> Int {
        let dropped = max(0, history.count - max(0, n))
        history.removeFirst(dropped)
        return dropped
    }

    /// theta_ref <- theta: the KL term now anchors to the current policy. The pending rollout's
    /// ref_logp is rescored. Lesson 06.
    public mutating func resetReference() {
        referencePolicy = policy
        if var pending = currentRollout {
            pending.refLogp = score(referencePolicy, pending)
            currentRollout = pending
        }
    }

    /// Each completion's log-probabilities under `parameters`, by the one routine used for every
    /// snapshot (so equal parameters give bit-identical numbers).
    func score(_ parameters: Policy, _ rollout: Rollout) -> [[Double]] {
        let evaluation = parameters.evaluate(prompts: rollout.completionPrompts, completions: rollout.completions,
                                             temperature: rollout.temperature)
        return evaluation.rows(evaluation.logp)
    }

    enum CodingKeys: String, CodingKey {
        case settings
        case loss = "loss_config"
        case policy
        case oldPolicy = "old_policy"
        case referencePolicy = "reference_policy"
        case optimizer
        case rng
        case iterationCount = "iteration_count"
        case innerStepsDone = "inner_steps_done"
        case stepCount = "step_count"
        case currentRollout = "current_rollout"
        case history
        case entropyControl = "entropy_control"
        case recentPolicies = "recent_policies"
    }

    /// Reads a saved session, checking the settings' ranges (the task must exist) and that the three
    /// snapshots, the pending rollout and the optimizer's moments fit the policy the task and
    /// settings describe.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        settings = try c.decode(TrainingSettings.self, forKey: .settings)
        loss = try c.decode(LossConfigCoding.self, forKey: .loss)
        policy = try c.decode(Policy.self, forKey: .policy)
        oldPolicy = try c.decode(Policy.self, forKey: .oldPolicy)
        referencePolicy = try c.decode(Policy.self, forKey: .referencePolicy)
        optimizer = try c.decode(Optimizer.self, forKey: .optimizer)
        rng = try c.decode(SeededGenerator.self, forKey: .rng)
        iterationCount = try c.decode(Int.self, forKey: .iterationCount)
        innerStepsDone = try c.decode(Int.self, forKey: .innerStepsDone)
        stepCount = try c.decode(Int.self, forKey: .stepCount)
        currentRollout = try c.decodeIfPresent(Rollout.self, forKey: .currentRollout)
        history = try c.decode([StepSummary].self, forKey: .history)
        // Sessions saved before the entropy bonus existed start the controller afresh.
        entropyControl = try c.decodeIfPresent(AdaptiveEntropy.self, forKey: .entropyControl) ?? AdaptiveEntropy(config: loss.config)
        // Sessions saved before the stale sampler existed have no snapshots: it starts from theta.
        recentPolicies = try c.decodeIfPresent([Policy].self, forKey: .recentPolicies) ?? []
        do {
            try settings.validate()
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .settings, in: c, debugDescription: error.message)
        }
        let task = TaskCatalog.named(settings.task)!
        let shape = Policy(vocabularySize: task.vocabularySize, promptCount: task.prompts.count,
                           maxLength: settings.maxCompletionLength)
        guard recentPolicies.count <= settings.maxStaleness else {
            throw DecodingError.dataCorruptedError(forKey: .recentPolicies, in: c,
                                                   debugDescription: "more snapshots than max_staleness \(settings.maxStaleness)")
        }
        for (key, p) in [(CodingKeys.policy, policy), (.oldPolicy, oldPolicy), (.referencePolicy, referencePolicy)]
            + recentPolicies.map({ (CodingKeys.recentPolicies, $0) }) {
            guard p.vocabularySize == shape.vocabularySize, p.promptCount == shape.promptCount,
                  p.maxLength == shape.maxLength, p.parameters.count == shape.parameters.count else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "the parameters do not fit task '\(task.name)' with max_completion_length \(settings.maxCompletionLength)")
            }
        }
        if let pending = currentRollout, !pending.fits(shape) {
            throw DecodingError.dataCorruptedError(forKey: .currentRollout, in: c, debugDescription: "the rollout does not fit task '\(task.name)' with max_completion_length \(settings.maxCompletionLength)")
        }
        guard [0, shape.parameters.count].contains(optimizer.firstMoment.count),
              optimizer.secondMoment.count == optimizer.firstMoment.count else {
            throw DecodingError.dataCorruptedError(forKey: .optimizer, in: c, debugDescription: "Adam's moments do not fit the parameters")
        }
        // The settings say which optimizer and learning rate: a hand-edited file is taken at its word.
        optimizer.kind = settings.optimizer
        optimizer.learningRate = settings.learningRate
    }
}
