import GRPO

/// Which library's words the session speaks (`set library verl`): its option names (`config`,
/// `set`) and its logged numbers (`metrics`). Under verl the loss is what verl 0.9.1's actor
/// backpropagates (`VerlOptions.lossInputs`: its advantage estimator, rollout correction and
/// loss mode); under TRL it is `GRPOConfig` as set. Lesson 14.
public enum Library: String, Sendable, CaseIterable {
    case trl, verl
}

extension Session {
    /// What each verl option is, as `config` lists it (verl's leaf names, `VerlOptions.keys`).
    static let verlSummaries: [String: (summary: String, accepted: String, suggestions: [String])] = [
        "loss_mode": ("policy_loss.loss_mode: the policy loss", VerlOptions.LossMode.allCases.map(\.rawValue).joined(separator: ", "),
                      VerlOptions.LossMode.allCases.map(\.rawValue)),
        "loss_agg_mode": ("how the token losses become one number", VerlOptions.lossAggModes.map(\.rawValue).joined(separator: ", "),
                          VerlOptions.lossAggModes.map(\.rawValue)),
        "clip_ratio": ("clip width, read only where clip_ratio_low/high are none", "a number", ["0.2"]),
        "clip_ratio_low": ("clip width below 1 (TRL's epsilon)", "a number, or none", ["0.2", "none"]),
        "clip_ratio_high": ("clip width above 1 (TRL's epsilon_high)", "a number, or none", ["0.2", "0.28", "none"]),
        "clip_ratio_c": ("dual clip for A < 0 (vanilla: > 1; dppo: the weight's cap)", "a number", ["3", "10"]),
        "use_kl_loss": ("add kl_loss_coef * the KL to the reference", "true, false", ["true", "false"]),
        "kl_loss_coef": ("the KL term's weight", "a number", ["0.001", "0.04"]),
        "kl_loss_type": ("the KL estimator ('+': k2's gradient)",
                         VerlOptions.KLLossType.allCases.filter { $0 != .full }.map(\.rawValue).joined(separator: ", ") + ", each with +",
                         ["low_var_kl", "k1", "k2", "k3", "abs", "low_var_kl+"]),
        "entropy_coeff": ("entropy term's weight (subtracted)", "a number", ["0", "0.001"]),
        "calculate_entropy": ("compute and log the entropy", "true, false", ["true", "false"]),
        "loss_scale_factor": ("seq-mean-token-sum-norm's divisor", "a number, or none (the padded width)", ["none", "1024"]),
        "tau_pos": ("sapo's gate temperature, A > 0", "a number", ["1"]),
        "tau_neg": ("sapo's gate temperature, A < 0", "a number", ["1.05"]),
        "clip_cov_ratio": ("clip_cov: share of tokens detached", "a number", ["0.0002", "1"]),
        "clip_cov_lb": ("clip_cov: lower covariance bound", "a number", ["1"]),
        "clip_cov_ub": ("clip_cov: upper covariance bound", "a number", ["5"]),
        "clip_cov_seed": ("clip_cov: torch's seed (not reproduced)", "a whole number, or none", ["none"]),
        "kl_cov_ratio": ("kl_cov: share of tokens penalized", "a number in (0, 1]", ["0.0002", "0.2"]),
        "ppo_kl_coef": ("kl_cov: the penalty's weight on |log r|", "a number", ["0.1", "1"]),
        "dro_beta": ("dro: weight of the (log r)^2 penalty", "a positive number, or none", ["0.1", "none"]),
        "adv_estimator": ("algorithm.adv_estimator", VerlAdvantages.Estimator.allCases.map(\.rawValue).joined(separator: ", "), VerlAdvantages.Estimator.allCases.map(\.rawValue)),
        "norm_adv_by_std_in_grpo": ("grpo: divide A by the group's std", "true, false", ["true", "false"]),
        "gdpo_reward_weights": ("gdpo: one weight per reward function", "numbers as 1,0.5, or none", ["none", "1,1"]),
        "rollout_is": ("importance weights vs sampler_logp", "token, sequence, or none", ["none", "token", "sequence"]),
        "rollout_is_threshold": ("rollout_is's cap (or lower_upper)", "a number, or two as lower_upper", ["2.0", "0.5_2.0"]),
        "rollout_is_batch_normalize": ("rollout_is: weights' batch mean made 1", "true, false", ["false", "true"]),
        "rollout_rs": ("rejection sampling vs sampler_logp", "none, or one of verl's rollout_rs options", ["none", "token_k1", "seq_mean_k3"]),
        "rollout_rs_threshold": ("rollout_rs's thresholds", "verl's threshold text, or none", ["none"]),
        "loss_type": ("bypass_mode: ppo_clip or reinforce", "ppo_clip, reinforce", ["ppo_clip", "reinforce"]),
        "max_response_length": ("the padded response width", "a whole number >= 1, or none (the longest)", ["none"]),
    ]

    /// verl's options as settings, for `config` and `set` under `library verl`. A new value is
    /// checked as verl checks it (`VerlOptions.lossConfig`) before it is kept.
    static let verlSettings: [Setting] = VerlOptions.keys.map { key in
        let about = verlSummaries[key] ?? ("verl option", "verl's values", [])
        return Setting(key: key, scope: .loss, summary: about.summary, accepted: about.accepted, suggestions: about.suggestions,
                       get: { session in session.verlOptions.settings.first { $0.key == key }?.value ?? "" },
                       set: { session, text throws(CommandError) in
                           var options = session.verlOptions
                           do throws(ConfigError) {
                               try options.set(key, to: text)
                               try session.useVerlOptions(options)
                           } catch { throw CommandError("verl: \(error.message)") }
                       })
    }

    /// Makes `options` the session's verl options, and their loss (in the neutral options) the
    /// one training uses. Throws what verl would refuse; then nothing changes.
    func useVerlOptions(_ options: VerlOptions) throws(ConfigError) {
        try options.checkValues()
        let config = try options.lossConfig(paddedWidth: options.maxResponseLength ?? config.maxCompletionLength)
        verlOptions = options
        self.config = config
    }

    /// The session's TRL options in verl's words, as `library verl` starts from them: the clip
    /// widths, the dual clip, the KL, the entropy term, and the loss type as a loss mode and
    /// aggregation (TRL's loss types that verl has no loss mode for keep verl's vanilla).
    static func verlOptions(from c: GRPOConfig) -> VerlOptions {
        var v = VerlOptions()
        v.clipRatioLow = c.epsilon
        v.clipRatioHigh = c.resolvedEpsilonHigh
        if let delta = c.delta, delta > 1 { v.clipRatioC = delta }
        v.useKLLoss = c.beta != 0
        v.klLossCoef = c.beta == 0 ? v.klLossCoef : c.beta
        v.entropyCoeff = c.entropyCoef
        v.lossAggMode = VerlOptions.lossAggModes.contains(c.aggregation) ? c.aggregation : .tokenMean
        switch c.objective {
        case .cispo: v.lossMode = .cispo
        case .sapo:
            v.lossMode = .sapo
            (v.tauPos, v.tauNeg) = (c.sapoTemperaturePos, c.sapoTemperatureNeg)
        case .clipMin where c.importanceSamplingLevel == .sequence: v.lossMode = .gspo
        default: v.lossMode = .vanilla
        }
        v.normAdvByStdInGRPO = c.scaleRewards != .none
        return v
    }

    /// Switches the session's words to `library`, and says what that changed.
    func switchLibrary(to library: Library) throws(CommandError) -> [String] {
        guard library != self.library else { return [] }
        switch library {
        case .verl:
            // The verl options the session had, unless the TRL options changed since.
            let kept = try? verlOptions.lossConfig(paddedWidth: verlOptions.maxResponseLength ?? config.maxCompletionLength)
            let unchanged = kept.map { var k = $0; k.maxCompletionLength = config.maxCompletionLength; return k == config } ?? false
            let options = verlFile?.options ?? (unchanged ? verlOptions : Self.verlOptions(from: config))
            do throws(ConfigError) { try useVerlOptions(options) } catch { throw CommandError("library verl: \(error.message)") }
            self.library = .verl
            return ["library verl: options and metrics under verl 0.9.1's names; the loss is verl's actor loss"]
                + Fmt.indented("from: " + ExplainText.changedVerlSettings(verlOptions)
                    + (verlFile != nil ? " (the batch file's)" : unchanged ? " (as the session had them)" : " (the session's TRL options in verl's words)"),
                    width: lineWidth)
                + Fmt.indented("'config' lists verl's options; 'set library trl' goes back", width: lineWidth)
        case .trl:
            self.library = .trl
            let steps = verlBatchSteps()
            return ["library trl: TRL's option names again; the loss keeps verl's conventions in them"]
                + Fmt.indented("(" + ExplainText.changedSettings(config) + "); 'preset trl' starts from TRL's own", width: lineWidth)
                + (steps.isEmpty ? [] : Fmt.indented("not kept (verl computes them from the whole batch, which TRL's options cannot say): "
                                                     + steps.joined(separator: ", "), width: lineWidth))
        }
    }

    /// The batch and options the loss is computed from: the current batch and `config` under
    /// TRL's words; under verl's, verl's actor inputs for it (`VerlOptions.lossInputs`: a verl
    /// file's batch as the file gave it, or the current batch with its rewards).
    /// `path`: whose advantage estimator runs (each loss path reads its own).
    func lossInputs(path: DisplayPath? = nil) throws(CommandError) -> (batch: Batch, config: GRPOConfig) {
        let batch = try currentBatch()
        guard library == .verl else { return (batch, batchConfig) }
        do throws(ConfigError) {
            let estimator: VerlAdvantages.Path = (path ?? shownPath) == .naive ? .naive : .vectorized
            var (verlBatch, config) = try verlOptionsAsComputed().lossInputs(verlFile?.responseBatch ?? batch, path: estimator)
            config.maxCompletionLength = self.config.maxCompletionLength
            return (verlBatch, config)
        } catch {
            throw CommandError("verl: \(error.message)")
        }
    }

    /// The batch the breakdown is computed from (`lossInputs`), for the views that read its
    /// completions beside the breakdown.
    func shownBatch() throws(CommandError) -> Batch { try lossInputs().batch }

    /// Under `library verl` the tiny policy trains with verl's loss terms (`config`, from
    /// `VerlOptions.lossConfig`) and group-relative advantages as verl's grpo computes them; the
    /// steps verl takes on each batch before its loss (another estimator, the rollout
    /// correction, kl_cov's and clip_cov's token choices, bypass_mode) are not in the trainer.
    /// Returns the reason `command` cannot run, or nil.
    func verlTrainingProblem(before command: String) -> String? {
        guard library == .verl else { return nil }
        let missing = verlBatchSteps()
        guard !missing.isEmpty else { return nil }
        return "\(command) cannot run: under library verl the tiny policy trains with verl's loss terms and grpo's advantages, "
            + "not \(missing.joined(separator: ", ")) (verl computes them from the whole batch: its estimator, its rollout "
            + "correction, kl_cov's and clip_cov's choice of tokens, bypass_mode's old policy); set them back, or 'set library trl'"
    }

    /// Goes back to TRL's words after a command that set TRL's options (`preset`, `load`,
    /// `explain` of a file with "config"); the line that says so, or none when already there.
    func backToTRL(because reason: String) -> [String] {
        guard library == .verl else { return [] }
        library = .trl
        return ["library trl: \(reason) ('set library verl' shows them in verl's words)"]
    }

    /// The verl options that act on the batch before the loss (the trainer and TRL's words hold
    /// only the loss terms): another advantage estimator, the rollout correction, the covariance
    /// choices, bypass_mode.
    func verlBatchSteps() -> [String] {
        let v = verlOptions
        var steps: [String] = []
        if v.advEstimator != "grpo" { steps.append("adv_estimator \(v.advEstimator)") }
        if [.klCov, .clipCov, .bypassMode].contains(v.lossMode) { steps.append("loss_mode \(v.lossMode.rawValue)") }
        if let level = v.rolloutIS { steps.append("rollout_is \(level)") }
        if let option = v.rolloutRS { steps.append("rollout_rs \(option)") }
        return steps
    }

    /// Where the advantages `advantages` shows come from, when the loss did not compute them
    /// itself: as the batch gives them, or verl's estimator (under `library verl`, the current one).
    func advantageSource() throws(CommandError) -> String {
        let given = verlFile?.responseBatch ?? batch
        guard library == .verl, given?.hasGivenAdvantages == false else {
            return verlFile?.advantageSource ?? BreakdownView.givenAdvantagesTitle
        }
        return "A_i by verl's \(verlOptions.advEstimator) estimator, the batch's groups as verl's uids"
    }

    /// The session's verl options with the padded width they are computed at: a verl file's
    /// own, or the tiny policy's `max_completion_length` (its responses' width), or the longest
    /// completion of the batch when that is longer (a TRL file's).
    func verlOptionsAsComputed() -> VerlOptions {
        var options = verlOptions
        if verlFile == nil && options.maxResponseLength == nil {
            options.maxResponseLength = max(config.maxCompletionLength, batch?.completions.map(\.length).max() ?? 1)
        }
        return options
    }
}
