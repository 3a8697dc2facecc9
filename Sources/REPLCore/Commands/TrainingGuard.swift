import GRPO
import TinyPolicy

/// Keeps `rollout`, `step`, `iterate` and `train` away from states the trainer cannot compute in
/// doubles. The trainer stops the process on a non-finite log-probability (it treats one as its
/// own bug), and options in range can still get there: a temperature of 1e-320 divides a logit
/// of 0.05 into infinity; `learning_rate 100` with `sgd`, or with `num_iterations` > 1, can push
/// a ratio past exp(709), whose gradient is inf * 0 = NaN, and theta with it.
///
/// So a command refuses to start from such a state, and a step that would leave theta there is
/// undone (the run is replayed from a checkpoint: every draw comes from the trainer's own seeded
/// generator, so the replay is exact) and the command stops with a one-line reason.
enum TrainingGuard {
    /// Logits / T beyond this could overflow in log-softmax (z - max - log sum).
    static let largestScaledLogit = 1e300

    /// Why the next rollout or update cannot be computed from `trainer` (and what to change), or
    /// nil when it can. `rollout`: the command samples a new batch, so the current batch's
    /// temperature does not matter.
    static func problem(_ trainer: Trainer, rollout: Bool = false) -> (reason: String, hint: String)? {
        let s = trainer.settings
        var temperatures = [("temperature", s.temperature)]
        if let t = s.samplerTemperature { temperatures.append(("sampler_temperature", t)) }
        if !rollout, !trainer.needsRollout, let r = trainer.currentRollout { temperatures.append(("batch", r.temperature)) }
        let (which, temperature) = temperatures.min { $0.1 < $1.1 }!
        let raise = which == "batch" ? "'rollout' samples a new batch at temperature \(Fmt.num(s.temperature))"
                                     : "raise \(which) (now \(Fmt.num(temperature)))"
        // d logp / d logit carries a factor 1 / T: a tiny temperature makes the gradient itself overflow.
        let stepSize = temperature < 1e-6 ? raise
            : "a smaller learning_rate (now \(Fmt.num(s.learningRate)), \(s.optimizer.rawValue)) or num_iterations "
              + "(now \(s.numIterations)) avoids it"
        for (name, policy) in [("theta", trainer.policy), ("theta_old", trainer.oldPolicy), ("theta_ref", trainer.referencePolicy)] {
            var largest = 0.0
            for x in policy.parameters {
                guard x.isFinite else { return ("\(name) has a parameter that is \(Fmt.num(x))", stepSize) }
                largest = max(largest, abs(x))
            }
            let logit = 2 * largest  // a logit is the sum of two table entries
            if !(logit / temperature <= largestScaledLogit) {
                return ("\(name)'s logits (up to \(Fmt.num(logit))) / temperature \(Fmt.num(temperature)) overflow a double", raise)
            }
            if s.samplerPrecision == .float16 && logit > 65504 {
                return ("\(name)'s logits (up to \(Fmt.num(logit))) are beyond float16's 65504, which sampler_precision=float16 "
                        + "rounds them to", "set sampler_precision to bfloat16 or exact, or " + stepSize)
            }
        }
        return nil
    }

    /// Refuses to start a command from a state the trainer cannot compute.
    static func check(_ trainer: Trainer, config: GRPOConfig, before command: String) throws(CommandError) {
        if let (reason, hint) = problem(trainer, rollout: command == "rollout") {
            throw CommandError("\(command) cannot run: \(reason); \(hint); 'new' starts a new run")
        }
        // A mismatched sampler gives every batch sampler log-probs: the correction's options must fit.
        if trainer.settings.hasSamplerMismatch && config.vllmImportanceSamplingCorrection {
            do throws(BatchError) { try config.validateSamplerCorrection() } catch {
                throw CommandError("\(command) cannot run: \(error.message)")
            }
        }
    }

    /// The reason a step was undone, as one line.
    static func undone(_ trace: StepTrace, _ problem: (reason: String, hint: String)) -> String {
        let s = trace.summary
        return "step \(s.step + 1) was undone: after it \(problem.reason) (its loss \(Fmt.num(s.loss)), |d loss / d theta| "
            + "\(Fmt.num(s.gradientNorm))); \(problem.hint)"
    }

    /// Runs `iterations` iterations as `Trainer.train` does (asking `shouldStop` before each inner
    /// update, keeping every update made), but undoes and stops at an update after which
    /// `problem` finds something. Returns the updates kept and, when one was undone, why.
    static func train(_ trainer: inout Trainer, iterations: Int, shouldStop: () -> Bool,
                      onStep: (StepTrace) -> Void,
                      problem: (Trainer) -> (reason: String, hint: String)? = { problem($0) }) -> (steps: Int, undone: String?) {
        var steps = 0
        // A checkpoint every few steps, not every step: copying the trainer makes the next
        // step copy its whole history.
        var checkpoint = trainer, checkpointSteps = 0
        let interval = 32
        for _ in 0..<iterations {
            repeat {
                if shouldStop() { return (steps, nil) }
                if steps - checkpointSteps >= interval {
                    checkpoint = trainer
                    checkpointSteps = steps
                }
                let trace = trainer.innerStep()
                if let reason = problem(trainer) {
                    trainer = checkpoint
                    for _ in checkpointSteps..<steps { trainer.innerStep() }
                    return (steps, undone(trace, reason))
                }
                onStep(trace)
                steps += 1
            } while !trainer.needsRollout
        }
        return (steps, nil)
    }
}
