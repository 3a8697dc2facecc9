import GRPO

extension Trainer {
    /// Starts an iteration: theta_old <- theta, then `prompts_per_iteration` prompts drawn
    /// uniformly (with replacement), G completions each from pi_old (or from the mismatched
    /// sampler, lesson 09, whose weights lag by `max_staleness` updates: `samplerPolicy`), each
    /// scored by the task. old_logp and ref_logp are computed here, once, with the trainer's
    /// temperature and theta itself, as a trainer scores what an asynchronous sampler sent it
    /// (or, with `old_logp_source sampler`, old_logp are the sampler's own). Lessons 02, 03, 16.
    ///
    /// Throws when a log-probability is not finite or the loss options cannot take the batch
    /// (`Batch.validate(for:)`); nothing changes then.
    @discardableResult
    public mutating func rollout() throws(TrainingError) -> Rollout {
        let sampled: SampledRollout
        do throws(TrainingError) { sampled = try sampleRollout() } catch {
            var alone = error
            alone.stage = .rollout
            throw alone
        }
        let batch = batch(sampled.rollout, evaluation: evaluateCurrent(sampled.rollout))
        do throws(BatchError) { try batch.validate(for: lossConfig) } catch {
            var refused = trainingError("the loss options do not fit the batch it samples: \(error.message)",
                                        hint: "change them with 'set'")
            refused.stage = .rollout
            throw refused
        }
        keep(sampled)
        return sampled.rollout
    }

    /// A rollout drawn from a copy of the generator, with its log-probabilities checked: the
    /// trainer is unchanged until `keep`.
    func sampleRollout() throws(TrainingError) -> SampledRollout {
        var rng = self.rng
        let task = self.task
        let g = settings.numGenerations
        let mismatch = settings.hasSamplerMismatch
        let samplerTemperature = settings.samplerTemperature ?? settings.temperature
        var prompts: [Int] = []
        for _ in 0..<settings.promptsPerIteration { prompts.append(rng.integer(0, task.prompts.count - 1)) }
        var completions: [[Int]] = []
        var samplerLogp: [[Double]] = []
        var rewards: [Double] = []
        // The sampler's weights, newest last, and how far behind theta it starts; with in-flight
        // updates it takes the next newer weights every `weight_update_interval` sampled tokens.
        let versions = recentPolicies.suffix(settings.maxStaleness) + [policy]
        let startLag = min(settings.maxStaleness, recentPolicies.count)
        let interval = settings.weightUpdateInterval
        var sampledTokens = 0
        var lags: [[Int]] = []
        for q in prompts {
            for _ in 0..<g {
                var lag: [Int] = []
                let sampled = Policy.sample(prompt: q, endToken: task.endToken, maxLength: settings.maxCompletionLength,
                                            temperature: samplerTemperature, precision: settings.samplerPrecision,
                                            using: &rng) { _ in
                    let behind = interval > 0 ? max(0, startLag - sampledTokens / interval) : startLag
                    lag.append(behind)
                    sampledTokens += 1
                    return versions[versions.count - 1 - min(behind, versions.count - 1)]
                }
                completions.append(sampled.tokens)
                samplerLogp.append(sampled.samplerLogp)
                lags.append(lag)
                rewards.append(task.reward(prompt: q, completion: sampled.tokens))
            }
        }
        // theta_old is theta at this point: `keep` makes it so.
        var sampled = Rollout(iteration: iterationCount, prompts: prompts, groupSize: g, temperature: settings.temperature,
                              completions: completions, rewards: rewards, oldLogp: [], refLogp: [],
                              samplerLogp: mismatch ? samplerLogp : nil)
        if settings.maxStaleness > 0 { sampled.tokenLag = lags }
        sampled.oldLogp = score(policy, sampled)
        if mismatch && settings.oldLogpSource == .sampler { sampled.takeSamplerLogpAsOld() }
        sampled.refLogp = score(referencePolicy, sampled)
        try checkScores(sampled)
        return SampledRollout(rollout: sampled, rng: rng)
    }

    /// Makes a sampled rollout the current one: theta_old <- theta, the generator after its draws.
    mutating func keep(_ sampled: SampledRollout) {
        oldPolicy = policy
        rng = sampled.rng
        currentRollout = sampled.rollout
        iterationCount += 1
        innerStepsDone = 0
    }

    /// The batch the loss would see now: logp and entropies from the current theta, old_logp and
    /// ref_logp from the rollout (ref_logp is always given, so KL is reported even when beta = 0),
    /// sampler_logp when the sampler differs. `nil` before the first rollout. Lesson 01.
    public func buildBatch() -> Batch? {
        guard let rollout = currentRollout else { return nil }
        return batch(rollout, evaluation: evaluateCurrent(rollout))
    }

    /// One optimizer update on the current batch (a rollout first if `needsRollout`): logp
    /// recomputed from the current theta, the loss and d loss / d logp from the chosen path (and
    /// the other one when `cross_check` is on), d loss / d theta by `Policy.gradient`, one
    /// optimizer step. With mu = 1 every update is the first on its batch and the ratio is
    /// exactly 1; with mu > 1 the later updates see theta != theta_old. Lessons 03 and 04.
    ///
    /// All or nothing: every number is computed and checked before the update is kept, so when
    /// it throws (`TrainingError`) the trainer, its rollout and its generator are as they were.
    @discardableResult
    public mutating func innerStep() throws(TrainingError) -> StepTrace {
        let input = try updateInput()
        let config = appliedLossConfig
        let breakdown = try breakdown(input.batch, config: config, path: settings.path)
        var difference: Double? = nil
        if settings.crossCheck {
            let other: LossPath = settings.path == .naive ? .vectorized : .naive
            difference = breakdown.maxDifference(from: try self.breakdown(input.batch, config: config, path: other))
        }
        // The entropy bonus reaches theta through the entropies, the rest through logp.
        return try update(input, breakdown: breakdown, gradLogp: breakdown.gradLogp.values,
                          gradEntropy: breakdown.entropyGradient?.values, crossCheckDifference: difference)
    }

    /// The loss options as this update applies them: `entropy_coef` is the adaptive controller's
    /// coefficient when `use_adaptive_entropy` is on.
    var appliedLossConfig: GRPOConfig {
        var config = lossConfig
        config.entropyCoef = entropyControl.appliedCoefficient(lossConfig)
        return config
    }

    /// What an update starts from: the current rollout (or a new one, not yet kept, when
    /// `needsRollout`), theta's scores of it, checked, and the batch they make.
    func updateInput() throws(TrainingError) -> UpdateInput {
        let fresh = needsRollout ? try sampleRollout() : nil
        let rollout = fresh?.rollout ?? currentRollout!
        let evaluation = evaluateCurrent(rollout)
        try checkScores(evaluation)
        return UpdateInput(fresh: fresh, rollout: rollout, evaluation: evaluation, batch: batch(rollout, evaluation: evaluation))
    }

    /// The rest of an inner update once d loss / d logp (and d loss / d entropy) are known:
    /// d loss / d theta by `Policy.gradient`, one optimizer step, the step's summary and trace.
    /// `breakdown` supplies the step's metrics. Every value is checked before anything is kept.
    mutating func update(_ input: UpdateInput, breakdown: Breakdown, gradLogp: [Double], gradEntropy: [Double]?,
                         crossCheckDifference difference: Double?) throws(TrainingError) -> StepTrace {
        let rollout = input.rollout
        try checkLoss(breakdown.loss, gradLogp: gradLogp, gradEntropy: gradEntropy, input)
        let gradient = policy.gradient(prompts: rollout.completionPrompts, completions: rollout.completions,
                                       evaluation: input.evaluation, gradLogp: gradLogp,
                                       gradEntropy: gradEntropy, temperature: rollout.temperature)
        var stepped = policy, optimizer = self.optimizer
        optimizer.step(&stepped.parameters, gradient: gradient)
        try checkUpdate(gradient: gradient, stepped: stepped, temperature: rollout.temperature)
        // Everything is finite: keep the update.
        let expected = task.expectedReward(policy, temperature: settings.temperature)
        if let fresh = input.fresh { keep(fresh) }
        rememberForSampler()
        let change = zip(stepped.parameters, policy.parameters).map { $0 - $1 }
        policy = stepped
        self.optimizer = optimizer
        entropyControl.update(measured: AdaptiveEntropy.measure(input.batch, breakdown), lossConfig)
        let summary = StepSummary(
            step: stepCount, iteration: rollout.iteration, innerStep: innerStepsDone, rollout: rollout, batch: input.batch,
            breakdown: breakdown, expectedReward: expected, gradient: gradient, change: change,
            crossCheckDifference: difference)
        let trace = StepTrace(summary: summary, rollout: rollout, batch: input.batch, breakdown: breakdown, gradient: gradient)
        innerStepsDone += 1
        stepCount += 1
        history.append(summary)
        latest = trace
        return trace
    }

    /// Finishes the current iteration: a rollout if needed, then the inner updates left (mu of
    /// them after a fresh rollout). Returns their traces. On a `TrainingError` the updates made
    /// before it stay (`stepCount` counts them).
    @discardableResult
    public mutating func iteration() throws(TrainingError) -> [StepTrace] {
        var traces: [StepTrace] = []
        repeat { traces.append(try innerStep()) } while !needsRollout
        return traces
    }

    /// Runs `iterations` iterations (the first one finishes the current iteration if it is under
    /// way). Before each inner update it asks `shouldStop()`; on true it returns at once, keeping
    /// every update made (the state stays consistent: the next call continues the iteration).
    /// `onStep` sees each update's trace. Returns the number of inner updates made. On a
    /// `TrainingError` it stops there: the updates made before it stay, the failed one is not made.
    @discardableResult
    public mutating func train(iterations: Int, shouldStop: () -> Bool = { false },
                               onStep: (StepTrace) -> Void = { _ in }) throws(TrainingError) -> Int {
        var steps = 0
        for _ in 0..<iterations {
            repeat {
                if shouldStop() { return steps }
                onStep(try innerStep())
                steps += 1
            } while !needsRollout
        }
        return steps
    }

    // MARK: - Pieces

    /// The weights the sampler has: theta from `max_staleness` updates ago (the oldest snapshot
    /// kept while fewer updates than that have been made, which is the run's start), or theta.
    public var samplerPolicy: Policy {
        let k = settings.maxStaleness
        guard k > 0, let oldest = recentPolicies.first else { return policy }
        return recentPolicies.count >= k ? recentPolicies[recentPolicies.count - k] : oldest
    }

    /// Keeps theta before an update, as the stale sampler will want it: the last
    /// `max_staleness` of them.
    mutating func rememberForSampler() {
        let k = settings.maxStaleness
        guard k > 0 else {
            recentPolicies = []
            return
        }
        recentPolicies.append(policy)
        if recentPolicies.count > k { recentPolicies.removeFirst(recentPolicies.count - k) }
    }

    /// pi_theta's scores of the rollout's completions, with the probabilities `Policy.gradient` needs.
    func evaluateCurrent(_ rollout: Rollout) -> PolicyEvaluation {
        policy.evaluate(prompts: rollout.completionPrompts, completions: rollout.completions,
                        temperature: rollout.temperature, keepProbabilities: true)
    }

    /// The batch of a rollout as scored by `evaluation`; a completion that stopped at the length
    /// limit, without the task's end token, is marked truncated (`mask_truncated_completions`).
    func batch(_ rollout: Rollout, evaluation: PolicyEvaluation) -> Batch {
        let endToken = task.endToken
        let logp = evaluation.rows(evaluation.logp)
        let entropy = evaluation.rows(evaluation.entropy)
        var groups: [Group] = []
        for k in rollout.prompts.indices {
            var completions: [Completion] = []
            for i in (k * rollout.groupSize)..<((k + 1) * rollout.groupSize) {
                var completion = Completion(
                    reward: rollout.rewards[i], logp: logp[i], oldLogp: rollout.oldLogp[i], refLogp: rollout.refLogp[i],
                    entropy: entropy[i], samplerLogp: rollout.samplerLogp?[i],
                    truncated: rollout.completions[i].last != endToken)
                completion.samplerLag = rollout.tokenLag?[i]
                completions.append(completion)
            }
            groups.append(Group(completions: completions))
        }
        return Batch(groups: groups)
    }

    /// The Breakdown by one path. The trainer builds batches of the right shape (G >= 2, ref_logp
    /// and entropies always given, lengths <= max_completion_length, scores checked finite), so
    /// what is left to refuse is a combination of loss options the batch cannot take.
    func breakdown(_ batch: Batch, config: GRPOConfig, path: LossPath) throws(TrainingError) -> Breakdown {
        do throws(BatchError) {
            switch path {
            case .naive: return try Naive.breakdown(batch, config: config)
            case .vectorized: return try Vectorized.breakdown(batch, config: config)
            }
        } catch {
            throw trainingError("the loss options do not fit the batch: \(error.message)", hint: "change them with 'set'")
        }
    }
}
