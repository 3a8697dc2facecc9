import GRPO
@testable import TinyPolicy
import Testing
@testable import REPLCore

/// Training never traps, and never loses a completed step: Ctrl-C stops at a step boundary, and a
/// step whose numbers are not finite is not made (`TrainingError`), with one line saying which.
@Suite("Robustness: training")
struct RobustnessTrainingTests {
    func fresh() -> Interpreter { Interpreter(session: Session(projectRoot: ProjectFiles.root)) }

    @Test("Ctrl-C during train (shouldStop flips after k calls) keeps every completed step, and the run continues from there")
    func interruptKeepsSteps() throws {
        for k in [0, 1, 5, 7] {
            let interpreter = fresh()
            #expect(!interpreter.execute("set num_iterations 2").isError)
            var calls = 0
            interpreter.session.shouldStop = { calls += 1; return calls > k }
            let reply = interpreter.execute("train 10")
            let trainer = interpreter.session.trainer
            #expect(!reply.isError, "k = \(k): \(reply.lines)")
            #expect(trainer.stepCount == k && trainer.history.count == k, "k = \(k): \(trainer.stepCount) steps")
            #expect(reply.lines.first == "stopped at a step boundary: \(k) update(s) kept", "k = \(k): \(reply.lines.first ?? "")")
            // mu = 2: after k updates the run is k / 2 iterations in, plus one inner update when k is odd.
            #expect(trainer.iterationCount == (k + 1) / 2)
            #expect(trainer.innerStepsDone == (k == 0 ? 0 : 2 - k % 2))
            // Continuing gives the same run as never stopping.
            interpreter.session.shouldStop = { false }
            #expect(!interpreter.execute("train 3").isError)
            let straight = fresh()
            _ = straight.execute("set num_iterations 2")
            var reference = straight.session.trainer
            var stepsLeft = interpreter.session.trainer.stepCount
            try reference.train(iterations: 100, shouldStop: { stepsLeft -= 1; return stepsLeft < 0 })
            #expect(reference.policy == interpreter.session.trainer.policy, "k = \(k): the resumed run differs from the straight one")
        }
    }

    @Test("a temperature so small that logits / T overflow: the step is not made, nothing changes, one line says why")
    func tinyTemperature() {
        for (setting, value) in [("temperature", "5e-324"), ("temperature", "1e-310"), ("sampler_temperature", "5e-324")] {
            let interpreter = fresh()
            #expect(!interpreter.execute("set \(setting) \(value)").isError)
            // The sampler at 5e-324 samples the uniform policy (logits 0 / T = 0) and the trainer
            // scores it at temperature 1: step 1 is finite. Once theta moves, the next rollout is not.
            let failing = setting == "sampler_temperature" ? 2 : 1
            if failing == 2 { #expect(!interpreter.execute("step").isError) }
            for line in ["train 3", "step", "iterate"] {
                let before = SessionSnapshot(interpreter.session)
                let reply = interpreter.execute(line)
                #expect(replyProblem(reply) == nil)
                #expect(reply.isError && reply.lines[0].contains("step \(failing) was not made")
                        && reply.lines[0].contains("\(setting) (now \(value))"), "\(setting)=\(value) \(line): \(reply.lines)")
                #expect(SessionSnapshot(interpreter.session) == before, "\(line) changed \(SessionSnapshot(interpreter.session).differences(from: before))")
            }
            // Back to a usable temperature, training works.
            #expect(!interpreter.execute("set \(setting) \(setting == "temperature" ? "1" : "none")").isError)
            #expect(!interpreter.execute("train 2").isError)
        }
    }

    @Test("a temperature lowered after training: rollout and step refuse with a reason instead of trapping")
    func temperatureLoweredAfterTraining() {
        let interpreter = fresh()
        #expect(!interpreter.execute("train 5").isError)
        #expect(!interpreter.execute("set temperature 1e-320").isError)
        for line in ["rollout", "step", "iterate", "train 5"] {
            let before = SessionSnapshot(interpreter.session)
            let reply = interpreter.execute(line)
            let start = line == "rollout" ? "error: no rollout was sampled: log pi_old" : "error: step 6 was not made: log pi_old"
            #expect(reply.isError && reply.lines[0].hasPrefix(start) && reply.lines[0].contains("raise temperature (now 1e-320)"),
                    "\(line): \(reply.lines)")
            #expect(SessionSnapshot(interpreter.session) == before)
        }
        #expect(!interpreter.execute("set temperature 1").isError)
        // The pending batch was scored at temperature 1, so stepping on it works again.
        #expect(!interpreter.execute("step").isError)
    }

    @Test("learning_rate 100 with sgd and mu = 4: the ratio overflows and its gradient is NaN; that step is not made, the others kept")
    func divergingStepUndone() {
        let interpreter = fresh()
        for line in ["set optimizer sgd", "set learning_rate 100", "set num_iterations 4"] { #expect(!interpreter.execute(line).isError) }
        let reply = interpreter.execute("train 50")
        #expect(!reply.isError, "\(reply.lines)")
        #expect(reply.lines.first?.hasPrefix("stopped: step ") == true && reply.lines[0].contains("was not made")
                && reply.lines[0].contains("log-ratio"), "\(reply.lines.first ?? "")")
        let kept = interpreter.session.trainer.stepCount
        #expect(kept > 0 && kept < 200)
        #expect(interpreter.session.trainer.policy.parameters.allSatisfy { $0.isFinite })
        // Every command still works on the kept state; a new batch can be stepped on.
        for line in ["loss", "ratio", "policy", "history", "chart", "rollout", "set learning_rate 0.05", "step"] {
            let r = interpreter.execute(line)
            #expect(!r.isError, "\(line): \(r.lines)")
        }
    }

    @Test("train appends to the session's history in place: no step copies the run so far")
    func historyNotCopied() {
        let interpreter = fresh()
        #expect(!interpreter.execute("train 3").isError)
        interpreter.session.trainer.history.reserveCapacity(200)
        let address = { interpreter.session.trainer.history.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
        let before = address()
        // 100 updates: the checkpoint copies of the old guard (one every 32 steps) moved the storage.
        #expect(!interpreter.execute("train 100").isError)
        #expect(interpreter.session.trainer.history.count == 103 && address() == before)
    }
}
